//! Native sockets with CPython's semantics for WebAssembly components: the
//! wasmtime host side of nativesock.
//!
//! A guest component imports `nativesock:socket/native@0.1.0` (see
//! `wit/native.wit`): thin, syscall-shaped access to the host's real
//! sockets, with the host's real fd numbers and errno values. This crate
//! implements that interface for wasmtime and owns what must not be
//! trusted to a guest:
//!
//! * **fds**: a store names only the fds it created, accepted, duplicated
//!   or was granted ([`NativesockCtxBuilder::grant_fd`]); any other number
//!   is `EBADF`. Dropping the store closes them all.
//! * **policy**: deny by default. [`NativesockCtxBuilder`] grants
//!   addresses and ports ([`AddressRule`]), unix directories, abstract unix
//!   names and name lookup, or everything ([`inherit_network`]).
//! * **hooks**: audit hooks that see (and may veto) every audit event, the
//!   signal check behind `check-signals`, and a fault injector for tests
//!   ([`Fault`]: errnos, short writes and reads).
//! * **limits**: per store, open sockets (`EMFILE`), bytes per call and
//!   time blocked in one call (`ETIMEDOUT`); a [`CancelHandle`] wakes a
//!   blocked call from another thread. `SECURITY.md` has the threat model.
//!
//! The CPython semantics themselves (timeouts, PEP 475 retries, exception
//! classes) live in the semantics component ([`artifacts::SEMANTICS`]),
//! which [`compose::compose_with_semantics`] plugs into an application.
//! [`run`] puts it all together for a command component, as the `nativesock`
//! command line (the `nativesock-cli` crate) does.
//!
//! [`add_to_linker`] links host functions for synchronous stores: a
//! blocking socket blocks the thread that runs the guest, exactly as it
//! would natively. [`add_to_linker_async`] links them for stores run with
//! wasmtime's `*_async` calls on tokio: a call that would block awaits the
//! socket's readiness on the runtime, and returns what the blocking call
//! would (`wait.rs` in the sources has how).
//!
//! # Example
//!
//! Embedding nativesock next to WASI in a synchronous wasmtime host
//! ([`run`] does the same in four calls):
//!
//! ```no_run
//! use nativesock::{NativesockCtx, NativesockCtxView, NativesockView};
//! use wasmtime::component::{Component, Linker, ResourceTable};
//! use wasmtime::{Engine, Store};
//! use wasmtime_wasi::p2::bindings::sync::Command;
//! use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
//!
//! struct MyState {
//!     wasi: WasiCtx,
//!     table: ResourceTable,
//!     nativesock: NativesockCtx,
//! }
//!
//! impl WasiView for MyState {
//!     fn ctx(&mut self) -> WasiCtxView<'_> {
//!         WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
//!     }
//! }
//!
//! impl NativesockView for MyState {
//!     fn nativesock(&mut self) -> NativesockCtxView<'_> {
//!         NativesockCtxView { ctx: &mut self.nativesock }
//!     }
//! }
//!
//! fn main() -> wasmtime::Result<()> {
//!     let engine = Engine::default();
//!     let mut linker = Linker::<MyState>::new(&engine);
//!     wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
//!     nativesock::add_to_linker(&mut linker)?;
//!
//!     // An application that imports `nativesock:socket/socket`, composed
//!     // with the semantics component that exports it.
//!     let app = std::fs::read("app.wasm")?;
//!     let composed = nativesock::compose::compose_with_semantics(&app)?;
//!     let component = Component::new(&engine, &composed)?;
//!
//!     // Loopback only, and a log line for every audit event.
//!     let nativesock = NativesockCtx::builder()
//!         .allow_connect("127.0.0.0/8".parse()?)
//!         .allow_bind("127.0.0.0/8".parse()?)
//!         .audit_hook(|event| {
//!             eprintln!("{}", event.to_json());
//!             Ok(())
//!         })
//!         .build();
//!     let state = MyState {
//!         wasi: WasiCtx::builder().inherit_stdio().build(),
//!         table: ResourceTable::new(),
//!         nativesock,
//!     };
//!     let mut store = Store::new(&engine, state);
//!
//!     let command = Command::instantiate(&mut store, &component, &linker)?;
//!     let result = command.wasi_cli_run().call_run(&mut store)?;
//!     // Dropping the store closes every socket the guest left open.
//!     drop(store);
//!     std::process::exit(if result.is_ok() { 0 } else { 1 });
//! }
//! ```
//!
//! [`inherit_network`]: NativesockCtxBuilder::inherit_network

#![deny(missing_docs)]

pub mod activation;
pub mod artifacts;
pub mod compose;
pub mod run;
pub mod wit;

mod bindings;
mod cancel;
mod ctx;
mod fd_table;
#[cfg(test)]
mod fuzz;
mod hooks;
#[cfg(test)]
mod hostile_tests;
mod native;
mod policy;
mod route;
mod sockopt;
mod sys;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod trust_tests;
mod unixpath;
mod wait;

pub use cancel::{CancelHandle, cancelled_error, wake_signal};
pub use ctx::{
    ADDRESS_EVENT, DEFAULT_MAX_OPEN_SOCKETS, DEFAULT_MAX_RECV_BYTES, DEFAULT_MAX_SEND_BYTES,
    DENIED_EVENT, HOST_EVENT_PREFIX, HOST_FD_RESERVE, LIMIT_EVENT, Limits, NativesockCtx,
    NativesockCtxBuilder, NativesockCtxView, NativesockView,
};
pub use hooks::{AuditArg, AuditEvent, AuditScalar, Call, Fault, Raised, SocketRef};
pub use native::{add_to_linker, add_to_linker_async};
pub use policy::{AddressRule, AddressRuleError, AddressUse};

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
