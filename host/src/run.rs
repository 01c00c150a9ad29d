//! Running a command component with WASI and nativesock: what the CLI does,
//! for embedders and tests that want the same thing.
//!
//! ```no_run
//! use nativesock::NativesockCtx;
//! use nativesock::run::{AppState, engine, linker, run_command};
//! use wasmtime::component::Component;
//!
//! # fn main() -> anyhow::Result<()> {
//! let engine = engine()?;
//! let linker = linker(&engine)?;
//! let app = std::fs::read("app.wasm")?;
//! let composed = nativesock::compose::compose_with_semantics(&app)?;
//! let component = Component::new(&engine, &composed)
//!     .map_err(nativesock::run::wasmtime_error)?;
//! let state = AppState::new(
//!     wasmtime_wasi::WasiCtx::builder().inherit_stdio().build(),
//!     NativesockCtx::builder().allow_connect("127.0.0.1".parse()?).build(),
//! );
//! let code = run_command(&engine, &linker, &component, state)?;
//! std::process::exit(code);
//! # }
//! ```

use anyhow::Context as _;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Cache, Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::{NativesockCtx, NativesockCtxView, NativesockView};

/// A store's data for a command component: WASI plus nativesock.
pub struct AppState {
    /// The WASI context (stdio, args, env, preopens, clocks, random).
    pub wasi: WasiCtx,
    /// The resources WASI hands out (streams, descriptors...).
    pub table: ResourceTable,
    /// The nativesock context: fds, policy, hooks.
    pub nativesock: NativesockCtx,
}

impl AppState {
    /// A state with an empty resource table.
    pub fn new(wasi: WasiCtx, nativesock: NativesockCtx) -> AppState {
        AppState {
            wasi,
            table: ResourceTable::new(),
            nativesock,
        }
    }
}

impl WasiView for AppState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl NativesockView for AppState {
    fn nativesock(&mut self) -> NativesockCtxView<'_> {
        NativesockCtxView {
            ctx: &mut self.nativesock,
        }
    }
}

/// Converts a `wasmtime::Error` (wasmtime 48 has its own error type) into an
/// `anyhow::Error`, keeping its chain of causes.
pub fn wasmtime_error(e: wasmtime::Error) -> anyhow::Error {
    anyhow::Error::from_boxed(e.into_boxed_dyn_error())
}

/// The engine the CLI uses: wasmtime's defaults, plus the compilation cache
/// (wasmtime's cache configuration, `$HOME/.config/wasmtime/config.toml` or
/// its defaults) when it can be set up; without it, components are simply
/// compiled every time.
pub fn engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    match Cache::from_file(None) {
        Ok(cache) => {
            config.cache(Some(cache));
        }
        Err(e) => tracing::warn!("compilation cache disabled: {e}"),
    }
    Engine::new(&config).map_err(wasmtime_error)
}

/// A linker with WASI 0.2 (synchronous) and `nativesock:socket/native`.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<AppState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(wasmtime_error)?;
    crate::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// Runs a command component (one that exports `wasi:cli/run`), typically
/// an application composed with the semantics component, in a new store
/// holding `state`. Returns its exit code: the code it passed to
/// `wasi:cli/exit`, or 0/1 for `run` returning `Ok`/`Err`.
///
/// # Errors
///
/// When the component imports something `linker` does not supply (the
/// error names the import), does not export `wasi:cli/run`, or traps.
pub fn run_command(
    engine: &Engine,
    linker: &Linker<AppState>,
    component: &Component,
    state: AppState,
) -> anyhow::Result<i32> {
    anyhow::ensure!(
        Engine::same(engine, component.engine()),
        "the component was compiled for another engine"
    );
    let pre = linker.instantiate_pre(component).map_err(wasmtime_error)?;
    let pre = CommandPre::new(pre)
        .map_err(wasmtime_error)
        .context("the component is not a command: it does not export `wasi:cli/run`")?;
    let mut store = Store::new(engine, state);
    let result = pre
        .instantiate(&mut store)
        .and_then(|command| command.wasi_cli_run().call_run(&mut store));
    match result {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(wasmtime_error(e)),
        },
    }
}
