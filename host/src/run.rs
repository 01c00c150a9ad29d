//! Running a command component with WASI and nativesock: what the CLI does,
//! for embedders and tests that want the same thing.
//!
//! ```no_run
//! use nativesock::NativesockCtx;
//! use nativesock::run::{AppState, engine, linker, run_command};
//! use wasmtime::component::Component;
//!
//! # fn main() -> wasmtime::Result<()> {
//! let engine = engine()?;
//! let linker = linker(&engine)?;
//! let app = std::fs::read("app.wasm")?;
//! let composed = nativesock::compose::compose_with_semantics(&app)?;
//! let component = Component::new(&engine, &composed)?;
//! let state = AppState::new(
//!     wasmtime_wasi::WasiCtx::builder().inherit_stdio().build(),
//!     NativesockCtx::builder().allow_connect("127.0.0.1".parse()?).build(),
//! );
//! let code = run_command(&engine, &linker, &component, state)?;
//! std::process::exit(code);
//! # }
//! ```

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{Cache, Config, Enabled, Engine, PoolingAllocationConfig, Store};
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

/// The version [`engine`] stamps on compiled code ([`Config::module_version`]):
/// wasmtime's, and the revision of the adapter change this workspace carries
/// (`vendor/wasmtime-environ`). Compiled code from a wasmtime without the
/// change, in the compilation cache or precompiled, is then never taken for
/// code with it: a cached component would otherwise keep the old adapters.
pub const MODULE_VERSION: &str = "50.0.1+nativesock.list-memory-copy.1";

/// The engine the CLI uses: wasmtime's defaults, plus the compilation cache
/// (wasmtime's cache configuration, `$HOME/.config/wasmtime/config.toml` or
/// its defaults) when it can be set up; without it, components are simply
/// compiled every time. Compiled code carries [`MODULE_VERSION`].
pub fn engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.module_version(wasmtime::ModuleVersionStrategy::Custom(
        MODULE_VERSION.into(),
    ))?;
    match Cache::from_file(None) {
        Ok(cache) => {
            config.cache(Some(cache));
        }
        Err(e) => tracing::warn!("compilation cache disabled: {e}"),
    }
    Engine::new(&config)
}

/// How much of each linear memory a warm pooling slot keeps resident: a
/// composed app's two memories each hold a 1 MiB Rust stack, then data and
/// heap; 2 MiB covers what a store with a few sockets touches.
pub const POOL_KEEP_RESIDENT: usize = 2 << 20;

/// wasmtime's pooling allocator, set up for a host that runs many stores of
/// composed apps (up to `max_stores` at once, each memory at most
/// `max_memory` bytes), as measured in `BENCHMARKS.md`:
///
/// - every slot stays warm when its store is dropped
///   (`max_unused_warm_slots`), and keeps resident what its last store
///   touched of each memory, up to [`POOL_KEEP_RESIDENT`] bytes, reset page
///   by page from the dirty-page scan of Linux 6.7+ (`pagemap_scan`, where
///   the kernel has it; on wasmtime 50 that needs the reset fix carried in
///   `vendor/wasmtime`, without which every slot keeps the whole budget
///   resident). A new store in a warm slot then maps nothing and takes no
///   page faults for what the last store touched;
/// - slots for 16 core instances and tables and 4 memories per store: a
///   composed app has two Rust modules (two memories) plus the shims and
///   adapters of composition.
///
/// The first store in each slot costs what it costs with the default
/// allocator; the saving comes when stores come and go.
///
/// ```
/// let mut config = wasmtime::Config::new();
/// config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
///     nativesock::run::pooling_config(100, 64 << 20),
/// ));
/// let engine = wasmtime::Engine::new(&config)?;
/// # Ok::<(), wasmtime::Error>(())
/// ```
pub fn pooling_config(max_stores: u32, max_memory: usize) -> PoolingAllocationConfig {
    let n = max_stores.max(1);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(16))
        .total_memories(n.saturating_mul(4))
        .total_tables(n.saturating_mul(16))
        .max_memory_size(max_memory)
        .max_unused_warm_slots(n.saturating_mul(16))
        .linear_memory_keep_resident(POOL_KEEP_RESIDENT)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto);
    pool
}

/// A linker with WASI 0.2 (synchronous) and `nativesock:socket/native`.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<AppState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    crate::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// A linker with WASI 0.2 (async) and `nativesock:socket/native`
/// ([`add_to_linker_async`](crate::add_to_linker_async)), for
/// [`run_command_async`].
pub fn linker_async(engine: &Engine) -> wasmtime::Result<Linker<AppState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    crate::add_to_linker_async(&mut linker)?;
    Ok(linker)
}

/// [`run_command`] for a host on tokio, with a linker from
/// [`linker_async`]: calls that wait await on the runtime.
///
/// # Errors
///
/// As [`run_command`].
pub async fn run_command_async(
    engine: &Engine,
    linker: &Linker<AppState>,
    component: &Component,
    state: AppState,
) -> wasmtime::Result<i32> {
    wasmtime::ensure!(
        Engine::same(engine, component.engine()),
        "the component was compiled for another engine"
    );
    let pre = linker.instantiate_pre(component)?;
    let pre = wasmtime_wasi::p2::bindings::CommandPre::new(pre)
        .context("the component is not a command: it does not export `wasi:cli/run`")?;
    let mut store = Store::new(engine, state);
    let result = match pre.instantiate_async(&mut store).await {
        Ok(command) => command.wasi_cli_run().call_run(&mut store).await,
        Err(e) => Err(e),
    };
    exit_code(result)
}

/// A command's exit code from how its `run` ended.
fn exit_code(result: wasmtime::Result<Result<(), ()>>) -> wasmtime::Result<i32> {
    match result {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(e),
        },
    }
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
) -> wasmtime::Result<i32> {
    wasmtime::ensure!(
        Engine::same(engine, component.engine()),
        "the component was compiled for another engine"
    );
    let pre = linker.instantiate_pre(component)?;
    let pre = CommandPre::new(pre)
        .context("the component is not a command: it does not export `wasi:cli/run`")?;
    let mut store = Store::new(engine, state);
    let result = pre
        .instantiate(&mut store)
        .and_then(|command| command.wasi_cli_run().call_run(&mut store));
    exit_code(result)
}
