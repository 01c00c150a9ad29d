//! Measurements that run in a child process of their own (`bench --child
//! MODE ...`), so that resident memory and fd counts start clean, and the
//! peer that holds the other ends of thousands of connections.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use wasmtime::component::Component;
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::native::{self, Peer};
use crate::wasm::{self, Net};

/// Runs child mode `args[0]`; prints its figures on stdout.
pub fn main(args: &[String]) -> Result<()> {
    let num = |i: usize| -> Result<u64> {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("child argument {i} must be a number: {args:?}"))
    };
    native::raise_nofile();
    let mut out = std::io::stdout();
    match args.first().map(String::as_str) {
        Some("peer-hold") => {
            let listener = native::listen()?;
            writeln!(out, "{}", listener.local_addr()?.port())?;
            out.flush()?;
            // Holds every connection until the parent kills this process;
            // bounded all the same.
            let mut held = Vec::new();
            for _ in 0..1_000_000 {
                if let Ok((s, _)) = listener.accept() {
                    held.push(s);
                }
            }
        }
        // For profiles: the connect loop alone, natively and in the
        // component (`BENCH_PERFMAP=1` names its functions), against this
        // process's own accepting peer (the bench's).
        Some("native-connect") => {
            let n = num(1)?;
            let (port, peer) = native::peer(Peer::Drop(n))?;
            writeln!(out, "{}", native::connect(port, n)?)?;
            peer.join()
                .map_err(|_| anyhow::anyhow!("the peer panicked"))?;
        }
        Some("wasm-connect") => {
            let n = num(1)?;
            let engine = wasm::engine(None)?;
            let pre = load(&engine, Path::new(&args[2]))?;
            let (port, peer) = native::peer(Peer::Drop(n))?;
            let pipe = MemoryOutputPipe::new(64);
            let args: Vec<String> = ["guest", "connect", &port.to_string(), &n.to_string()]
                .map(String::from)
                .to_vec();
            let state = wasm::state(Net::Nativesock, &args, Some(&pipe))?;
            drop(wasm::run_in_store(&engine, &pre, state)?);
            peer.join()
                .map_err(|_| anyhow::anyhow!("the peer panicked"))?;
            writeln!(out, "{}", String::from_utf8_lossy(&pipe.contents()).trim())?;
        }
        Some("native-hold") => {
            let before = native::rss();
            let (ns, streams) = native::hold(num(1)? as u16, num(2)?)?;
            let after = native::rss();
            writeln!(out, "{ns} {}", after.saturating_sub(before))?;
            drop(streams);
        }
        Some("wasm-hold") => {
            let (port, n) = (num(1)?, num(2)?);
            let engine = wasm::engine(None)?;
            let pre = load(&engine, Path::new(&args[3]))?;
            let before = native::rss();
            let pipe = MemoryOutputPipe::new(4096);
            let args: Vec<String> = ["guest", "hold", &port.to_string(), &n.to_string()]
                .map(String::from)
                .to_vec();
            let store = wasm::run_in_store(
                &engine,
                &pre,
                wasm::state(Net::Nativesock, &args, Some(&pipe))?,
            )?;
            let after = native::rss();
            let ns: u64 = String::from_utf8_lossy(&pipe.contents()).trim().parse()?;
            writeln!(out, "{ns} {}", after.saturating_sub(before))?;
            drop(store);
        }
        Some("wasm-stores") => {
            // Allocator: 0 default, 1 pooling with fresh slots, 2 pooling
            // with warm slots (n stores set up and dropped first, as in a
            // host whose stores come and go).
            let (port, n, allocator) = (num(1)?, num(2)?, num(4)?);
            let engine = wasm::engine((allocator > 0).then_some(n as u32))?;
            let pre = load(&engine, Path::new(&args[3]))?;
            // For profiles: `BENCH_STORE_MODE=noop|consts|trivial|timedN` runs
            // part of a store's set-up (`timedN`: the guest times N socket +
            // connect), and `BENCH_PHASES=1` prints where the time goes.
            let args: Vec<String> = match std::env::var("BENCH_STORE_MODE") {
                Ok(mode) if mode.starts_with("timed") => [
                    "guest",
                    "hold",
                    &port.to_string(),
                    mode.strip_prefix("timed")
                        .filter(|n| !n.is_empty())
                        .unwrap_or("1"),
                ]
                .map(String::from)
                .to_vec(),
                Ok(mode) => vec!["guest".into(), mode],
                Err(_) => ["guest", "hold", &port.to_string(), "1", "quiet"]
                    .map(String::from)
                    .to_vec(),
            };
            // One store first, outside the figures: lazy initialisation in
            // the host (thread locals, the allocator's first arenas).
            drop(wasm::run_in_store(
                &engine,
                &pre,
                wasm::state(Net::Nativesock, &args, None)?,
            )?);
            // Resident memory is counted from here, so that with warm slots
            // it includes what the slots keep resident.
            let before = native::rss();
            if allocator == 2 {
                let warm: Vec<_> = (0..n)
                    .map(|_| {
                        wasm::run_in_store(
                            &engine,
                            &pre,
                            wasm::state(Net::Nativesock, &args, None)?,
                        )
                    })
                    .collect::<Result<_>>()?;
                drop(warm);
            }
            let mut stores = Vec::with_capacity(n as usize);
            let start = Instant::now();
            let phases = std::env::var_os("BENCH_PHASES").is_some();
            let mut t = [0_u128; 4];
            let mut guest_ns = 0_u128;
            let (mut native_ns, mut native_conns) = (0_u128, Vec::new());
            for _ in 0..n {
                if phases {
                    let t0 = Instant::now();
                    let pipe = MemoryOutputPipe::new(64);
                    let state = wasm::state(Net::Nativesock, &args, Some(&pipe))?;
                    let t1 = Instant::now();
                    let mut store = wasmtime::Store::new(&engine, state);
                    let t2 = Instant::now();
                    let command = pre.instantiate(&mut store).map_err(anyhow::Error::from)?;
                    let t3 = Instant::now();
                    let _ = command.wasi_cli_run().call_run(&mut store);
                    let t4 = Instant::now();
                    t[0] += (t1 - t0).as_nanos();
                    t[1] += (t2 - t1).as_nanos();
                    t[2] += (t3 - t2).as_nanos();
                    t[3] += (t4 - t3).as_nanos();
                    let text = String::from_utf8_lossy(&pipe.contents()).into_owned();
                    guest_ns += text.trim().parse::<u128>().unwrap_or(0);
                    stores.push(store);
                    // The same connect, natively, in the same conditions.
                    let t5 = Instant::now();
                    native_conns.push(std::net::TcpStream::connect(("127.0.0.1", port as u16))?);
                    native_ns += t5.elapsed().as_nanos();
                    continue;
                }
                let state = wasm::state(Net::Nativesock, &args, None)?;
                stores.push(wasm::run_in_store(&engine, &pre, state)?);
            }
            if phases {
                let n = n as u128;
                eprintln!(
                    "per store: state {} ns, Store::new {} ns, instantiate {} ns, run {} ns \
                     (of which the guest timed {} ns); a native connect between stores {} ns",
                    t[0] / n,
                    t[1] / n,
                    t[2] / n,
                    t[3] / n,
                    guest_ns / n,
                    native_ns / n
                );
            }
            let ns = start.elapsed().as_nanos();
            let after = native::rss();
            writeln!(out, "{ns} {}", after.saturating_sub(before))?;
            drop(stores);
        }
        Some("write-composed") => {
            std::fs::write(&args[1], wasm::composed_app()?)?;
        }
        Some("write-cwasm") => {
            let engine = wasm::engine(None)?;
            let component =
                Component::new(&engine, wasm::composed_app()?).map_err(anyhow::Error::from)?;
            std::fs::write(
                &args[1],
                component.serialize().map_err(anyhow::Error::from)?,
            )?;
        }
        Some("trivial") => {
            let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
            drop(s);
        }
        _ => bail!("unknown child mode: {args:?}"),
    }
    Ok(())
}

/// A precompiled component (written by the parent for this engine's config).
fn load(engine: &wasmtime::Engine, cwasm: &Path) -> Result<CommandPre<nativesock::run::AppState>> {
    let component = if cwasm.extension().is_some_and(|e| e == "wasm") {
        // For profiles: a composed component (`--child write-composed`),
        // compiled here so that `BENCH_PERFMAP=1` names its functions.
        Component::from_file(engine, cwasm).map_err(anyhow::Error::from)?
    } else {
        // SAFETY: the parent wrote this file with `Component::serialize` on
        // an engine with the same configuration, a moment ago.
        unsafe { Component::deserialize_file(engine, cwasm) }.map_err(anyhow::Error::from)?
    };
    let linker = wasm::linker(engine)?;
    CommandPre::new(
        linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)?,
    )
    .map_err(anyhow::Error::from)
}

/// `bench --child ARGS...`, this program.
pub fn command(args: &[&str]) -> Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--child").args(args);
    Ok(cmd)
}

/// Runs a child and returns the numbers it printed.
pub fn run(args: &[&str]) -> Result<Vec<u64>> {
    let output = command(args)?.stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        bail!(
            "`bench --child {}` failed ({})",
            args.join(" "),
            output.status
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .map(|w| w.parse().with_context(|| format!("child printed {text:?}")))
        .collect()
}

/// The peer for the scale tests, in its own process (it holds as many fds
/// as the clients): killed when dropped.
pub struct HoldPeer {
    child: Child,
    pub port: u16,
}

impl HoldPeer {
    pub fn start() -> Result<HoldPeer> {
        let mut child = command(&["peer-hold"])?
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().context("piped stdout")?),
            &mut line,
        )?;
        let port = line
            .trim()
            .parse()
            .with_context(|| format!("peer printed {line:?}"))?;
        Ok(HoldPeer { child, port })
    }
}

impl Drop for HoldPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
