//! The test programs (`tests/programs/src/bin/NAME.rs`), built for
//! wasm32-wasip2 by this crate's build script: a `NAME` constant (upper
//! case) with each component's path, and one `foreach_KIND_program!` macro
//! per test binary, which calls `$mac!(name)` for each of its programs (a
//! test binary uses it to make a program without a test a compile error).
//!
//! The kinds, by name prefix: `async_*` (async stores,
//! `host/tests/async_embed.rs`), `cli_*` (the `nativesock` binary,
//! `cli/tests/cli.rs`), `fds_*` (they count the process's fds,
//! `host/tests/fds.rs`), `trust_leaks_*` (`host/tests/trust_leaks.rs`),
//! `trust_*` (`host/tests/trust.rs`), and `e2e` for the rest
//! (`host/tests/e2e.rs`).

include!(concat!(env!("OUT_DIR"), "/test_programs.rs"));
