//! Host bindings for `nativesock:socket/native`, generated from `wit/`.

wasmtime::component::bindgen!({
    // The world the host implements: it imports `native` and nothing else.
    world: "host",
    // The WIT package, relative to this crate's `Cargo.toml`.
    path: "../wit",
    // Every import is a plain synchronous `Host` method that cannot trap:
    // guest errors are errno results, and nothing here breaks an invariant
    // a trap would report. `tracing` logs each call and its result at the
    // `trace` level (`RUST_LOG=nativesock=trace`); lists are left out.
    imports: { default: tracing },
});
