//! The guests under wasmtime: the app component composed with the semantics
//! component on nativesock, and the plain `std::net` guest on wasmtime-wasi's
//! own `wasi:sockets`.

use anyhow::{Context as _, Result, bail};
use nativesock::NativesockCtx;
use nativesock::run::AppState;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, Store};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// The guests' components, built by `build.rs`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// An engine and the two guests, ready to instantiate.
pub struct Guests {
    pub engine: Engine,
    /// The app component composed with the semantics component.
    pub app: CommandPre<AppState>,
    /// The `std::net` guest.
    pub wasi: CommandPre<AppState>,
}

/// The engine: wasmtime's defaults (the CLI's, less the cache), or with the
/// pooling allocator sized for `stores` stores.
pub fn engine(pooling_stores: Option<u32>) -> Result<Engine> {
    let mut config = Config::new();
    // For profiles: `BENCH_PERFMAP=1 perf record ...` names the JIT code.
    if std::env::var_os("BENCH_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if let Some(stores) = pooling_stores {
        // The host's recommended settings for many stores (warm slots kept
        // resident), with room for the bench's own warm-up store.
        let pool = nativesock::run::pooling_config(stores.saturating_add(8), 64 << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// A linker with WASI 0.2 and nativesock, as the CLI's.
pub fn linker(engine: &Engine) -> Result<Linker<AppState>> {
    Ok(nativesock::run::linker(engine)?)
}

/// The composed app component.
pub fn composed_app() -> Result<Vec<u8>> {
    Ok(nativesock::compose::compose_with_semantics(guests::APP)?)
}

impl Guests {
    pub fn new(composed: &[u8]) -> Result<Guests> {
        let engine = engine(None)?;
        let linker = linker(&engine)?;
        let pre = |bytes: &[u8]| -> Result<CommandPre<AppState>> {
            let component = Component::new(&engine, bytes).map_err(anyhow::Error::from)?;
            CommandPre::new(
                linker
                    .instantiate_pre(&component)
                    .map_err(anyhow::Error::from)?,
            )
            .map_err(anyhow::Error::from)
        };
        Ok(Guests {
            app: pre(composed).context("compiling the app component")?,
            wasi: pre(guests::WASI).context("compiling the wasi:sockets guest")?,
            engine,
        })
    }
}

/// Which sockets a guest gets.
#[derive(Clone, Copy)]
pub enum Net {
    /// nativesock, loopback granted.
    Nativesock,
    /// wasmtime-wasi's `wasi:sockets`: TCP, every address, name lookup.
    WasiSockets,
}

/// The store data for one run of a guest with `args`; its stdout is `out`.
pub fn state(net: Net, args: &[String], out: Option<&MemoryOutputPipe>) -> Result<AppState> {
    let mut wasi = WasiCtx::builder();
    wasi.args(args);
    if let Some(out) = out {
        wasi.stdout(out.clone());
    }
    wasi.inherit_stderr();
    let mut ns = NativesockCtx::builder();
    match net {
        Net::Nativesock => {
            ns.allow_connect("127.0.0.1".parse()?);
            ns.allow_bind("127.0.0.1".parse()?);
            // The scale test holds 10,000 connections in one store; the
            // default cap is 1,024.
            ns.max_open_sockets(1 << 20);
        }
        Net::WasiSockets => {
            wasi.inherit_network()
                .allow_tcp(true)
                .allow_ip_name_lookup(true);
        }
    }
    Ok(AppState::new(wasi.build(), ns.build()))
}

/// Instantiates `pre` in a new store and runs it; returns the store (still
/// owning whatever the guest left open).
pub fn run_in_store(
    engine: &Engine,
    pre: &CommandPre<AppState>,
    state: AppState,
) -> Result<Store<AppState>> {
    let mut store = Store::new(engine, state);
    let result = pre
        .instantiate(&mut store)
        .and_then(|command| command.wasi_cli_run().call_run(&mut store));
    match result {
        Ok(Ok(())) => Ok(store),
        Ok(Err(())) => bail!("the guest failed"),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(0)) => Ok(store),
            _ => Err(anyhow::Error::from(e)),
        },
    }
}

/// Runs a guest and returns the number it printed (nanoseconds).
pub fn run_timed(
    engine: &Engine,
    pre: &CommandPre<AppState>,
    net: Net,
    args: &[&str],
) -> Result<u64> {
    let args: Vec<String> = std::iter::once("guest")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let out = MemoryOutputPipe::new(4096);
    let store = run_in_store(engine, pre, state(net, &args, Some(&out))?)
        .with_context(|| format!("running the guest with {args:?}"))?;
    drop(store);
    let text = String::from_utf8_lossy(&out.contents()).into_owned();
    text.trim()
        .parse()
        .with_context(|| format!("the guest printed {text:?}, not a number"))
}
