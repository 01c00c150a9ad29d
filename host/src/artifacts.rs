//! The WebAssembly components built from this workspace and embedded in the
//! host, for embedders that have no build of their own to point at.
//!
//! `build.rs` builds them for `wasm32-wasip2` whenever their sources change.

mod generated {
    include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
}

/// The semantics component (`guest/`): exports `nativesock:socket/socket@0.1.0`,
/// CPython's socket object, and imports `nativesock:socket/native@0.1.0`
/// from the host.
///
/// [`compose_with_semantics`](crate::compose::compose_with_semantics) plugs it
/// into an application component.
pub const SEMANTICS: &[u8] = generated::SEMANTICS;

/// The demo application (`guest/demo`): a command component that imports the
/// socket interface and tours its methods on loopback, printing each call
/// Python-style. Compose it with [`SEMANTICS`] before running it.
pub const DEMO: &[u8] = generated::DEMO;
