//! Host bindings for `nativesock:socket/native`, generated from `wit/`:
//! once with every import synchronous ([`sync`], for
//! [`add_to_linker`](crate::add_to_linker)) and once with the imports that
//! can wait for a socket as Rust `async` functions ([`r#async`], for
//! [`add_to_linker_async`](crate::add_to_linker_async)). The async bindings
//! have types of their own; `native.rs` implements both from one macro.

pub(crate) mod sync {
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
}

pub(crate) mod r#async {
    wasmtime::component::bindgen!({
        world: "host",
        path: "../wit",
        // The calls that can wait are `async`: those on a socket await
        // readiness on the host's runtime (`wait.rs`). The rest are the
        // synchronous ones.
        imports: {
            "nativesock:socket/native.connect": async | tracing,
            "nativesock:socket/native.accept": async | tracing,
            "nativesock:socket/native.send": async | tracing,
            "nativesock:socket/native.sendto": async | tracing,
            "nativesock:socket/native.recv": async | tracing,
            "nativesock:socket/native.recvfrom": async | tracing,
            "nativesock:socket/native.sendmsg": async | tracing,
            "nativesock:socket/native.recvmsg": async | tracing,
            "nativesock:socket/native.poll": async | tracing,
            "nativesock:socket/native.poll-fds": async | tracing,
            // These block in the kernel or the C library without a socket
            // to await: they run on tokio's blocking pool (`wait.rs`).
            "nativesock:socket/native.close": async | tracing,
            "nativesock:socket/native.getaddrinfo": async | tracing,
            "nativesock:socket/native.getnameinfo": async | tracing,
            "nativesock:socket/native.gethostbyname": async | tracing,
            "nativesock:socket/native.gethostbyaddr": async | tracing,
            default: tracing,
        },
    });
}
