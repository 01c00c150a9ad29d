//! nativesock side by side with native Rust, Rust on wasmtime-wasi's
//! `wasi:sockets`, and CPython, in one run, on loopback:
//!
//! ```text
//! cargo run --release -p nativesock-bench --bin bench [-- [--quick] [--repeats N] [--only GROUP,...]]
//! ```
//!
//! Groups: `percall`, `connect`, `throughput`, `conns`, `stores`, `langs`
//! (the Python and JavaScript bindings beside CPython and Node.js), `startup`.
//! Every figure is the median of repeated runs and is shown with its ratio
//! to the native figure measured in the same run; the output is a markdown
//! table (see `BENCHMARKS.md`). Nothing here asserts a time: a missed target
//! shows as "no" in the table.

mod child;
mod langs;
mod native;
mod wasm;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use wasmtime::component::Component;

use native::Peer;
use wasm::{Guests, Net};

const GIB: u64 = 1 << 30;
/// The buffer every implementation sends and receives with.
const CHUNK: usize = 256 << 10;

/// How much to measure.
struct Sizes {
    repeats: usize,
    getsockname: u64,
    connects: u64,
    bytes: u64,
    conns: u64,
    stores: u64,
    scale_repeats: usize,
    cold_starts: usize,
    warm_starts: usize,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            repeats: 5,
            getsockname: 200_000,
            connects: 2_000,
            bytes: GIB,
            conns: 10_000,
            stores: 1_000,
            scale_repeats: 3,
            cold_starts: 3,
            warm_starts: 10,
        }
    }

    fn quick() -> Sizes {
        Sizes {
            repeats: 1,
            getsockname: 10_000,
            connects: 100,
            bytes: 16 << 20,
            conns: 200,
            stores: 20,
            scale_repeats: 1,
            cold_starts: 1,
            warm_starts: 2,
        }
    }
}

/// Which implementation a figure is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Imp {
    Native,
    Nativesock,
    /// The app component calling the host's `native` interface directly
    /// (no semantics component): a diagnostic row for throughput.
    NativeInterface,
    WasiSockets,
    CPython,
    /// The bench's Python program built with `bindings/python` and run by
    /// `nativesock run`.
    PyBinding,
    /// Node.js's own `net` module, natively.
    Node,
    /// The bench's JavaScript program built with `bindings/js`.
    JsBinding,
}

impl Imp {
    fn name(self) -> &'static str {
        match self {
            Imp::Native => "native Rust",
            Imp::Nativesock => "nativesock component",
            Imp::NativeInterface => "(host `native` interface alone)",
            Imp::WasiSockets => "Rust on wasi:sockets",
            Imp::CPython => "CPython 3 `socket`",
            Imp::PyBinding => "Python binding on nativesock",
            Imp::Node => "Node.js `net`",
            Imp::JsBinding => "JS binding on nativesock",
        }
    }
}

/// Whether a bigger figure is better (throughput) or a smaller one (time).
#[derive(Clone, Copy, PartialEq)]
enum Better {
    Lower,
    Higher,
}

/// One line of the table.
struct Row {
    measure: String,
    imp: String,
    /// The median.
    value: f64,
    unit: &'static str,
    /// `value / native` (for throughput `value / native` too: higher is better).
    ratio: Option<f64>,
    /// The target, as text, and whether it was met.
    target: Option<(String, bool)>,
}

/// The median of `samples` (the mean of the middle two for an even count).
fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The ratio of `samples` to `native`: the median of the ratios of each
/// repeat (every repeat measures every implementation back to back, so
/// this cancels a shared machine's slow drifts), or the ratio of the
/// medians when the counts differ.
fn paired_ratio(samples: &[f64], native: &[f64]) -> f64 {
    if samples.len() == native.len() {
        let ratios: Vec<f64> = samples.iter().zip(native).map(|(s, n)| s / n).collect();
        median(&ratios)
    } else {
        median(samples) / median(native)
    }
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

/// A target on the ratio to native: at most (`Better::Lower`) or at least.
struct Target {
    ratio: f64,
}

impl Table {
    /// Adds the rows of one measure: native first, the others with their
    /// ratio to it and, for nativesock, the target.
    fn measure(
        &mut self,
        measure: &str,
        unit: &'static str,
        better: Better,
        figures: &[(Imp, Vec<f64>)],
        target: Option<Target>,
    ) {
        self.measure_against(Imp::Native, measure, unit, better, figures, target);
    }

    /// As `measure`, with the ratios to `base` (the native code of another
    /// language: CPython, Node.js).
    fn measure_against(
        &mut self,
        base: Imp,
        measure: &str,
        unit: &'static str,
        better: Better,
        figures: &[(Imp, Vec<f64>)],
        target: Option<Target>,
    ) {
        let native = figures
            .iter()
            .find(|(imp, _)| *imp == base)
            .map(|(_, s)| s.as_slice())
            .filter(|s| !s.is_empty());
        for (imp, samples) in figures {
            if samples.is_empty() {
                continue;
            }
            let value = median(samples);
            let ratio = native
                .filter(|_| *imp != base)
                .map(|native| paired_ratio(samples, native));
            let target = match (&target, ratio, *imp == Imp::Nativesock) {
                (Some(t), Some(r), true) => Some(match better {
                    Better::Lower => (format!("<= {:.1}x", t.ratio), r <= t.ratio),
                    Better::Higher => (format!(">= {:.1}x", t.ratio), r >= t.ratio),
                }),
                _ => None,
            };
            self.rows.push(Row {
                measure: measure.into(),
                imp: imp.name().into(),
                value,
                unit,
                ratio,
                target,
            });
        }
    }

    /// A row with an absolute target (`value <= limit`).
    fn absolute(
        &mut self,
        measure: &str,
        imp: &str,
        value: f64,
        unit: &'static str,
        ratio: Option<f64>,
        limit: Option<f64>,
    ) {
        self.rows.push(Row {
            measure: measure.into(),
            imp: imp.into(),
            value,
            unit,
            ratio,
            target: limit.map(|l| (format!("< {} {unit}", fmt_value(l)), value < l)),
        });
    }

    fn print(&self) {
        println!("| measure | implementation | median | vs native | target | met |");
        println!("|---|---|---:|---:|---|---|");
        for row in &self.rows {
            let ratio = row.ratio.map_or(String::new(), |r| format!("{r:.2}x"));
            let (target, met) = match &row.target {
                Some((t, met)) => (t.as_str(), if *met { "yes" } else { "**no**" }),
                None => ("", ""),
            };
            println!(
                "| {} | {} | {} {} | {ratio} | {target} | {met} |",
                row.measure,
                row.imp,
                fmt_value(row.value),
                row.unit
            );
        }
    }
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// What `--only` selected (everything when empty).
struct Only(BTreeSet<String>);

impl Only {
    fn has(&self, group: &str) -> bool {
        self.0.is_empty() || self.0.contains(group)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("--child") {
        child::main(&args[1..])
    } else {
        bench(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: &[String]) -> Result<()> {
    let mut sizes = Sizes::full();
    let mut only = Only(BTreeSet::new());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => sizes = Sizes::quick(),
            "--repeats" => {
                sizes.repeats = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .context("--repeats N")?;
            }
            "--only" => {
                only.0.extend(
                    it.next()
                        .context("--only GROUP,...")?
                        .split(',')
                        .map(String::from),
                );
            }
            "-h" | "--help" => {
                println!(
                    "usage: bench [--quick] [--repeats N] [--only percall,connect,throughput,conns,stores,langs,startup]"
                );
                return Ok(());
            }
            other => bail!("unknown argument `{other}` (try --help)"),
        }
    }
    let nofile = native::raise_nofile();
    machine_info(nofile);

    let start = Instant::now();
    let composed = wasm::composed_app()?;
    let guests = Guests::new(&composed)?;
    eprintln!(
        "compiled the guests in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let python = python_available();
    let mut table = Table::default();

    if only.has("percall") {
        percall(&guests, &sizes, python, &mut table)?;
    }
    if only.has("connect") {
        connect(&guests, &sizes, python, &mut table)?;
    }
    if only.has("throughput") {
        throughput(&guests, &sizes, python, &mut table)?;
    }
    let dir = tempfile::tempdir()?;
    if only.has("conns") || only.has("stores") {
        let cwasm = dir.path().join("app.cwasm");
        std::fs::write(
            &cwasm,
            guests
                .app
                .instance_pre()
                .component()
                .serialize()
                .map_err(anyhow::Error::from)?,
        )?;
        if only.has("conns") {
            conns(&cwasm, &sizes, nofile, &mut table)?;
        }
        if only.has("stores") {
            stores(&composed, &cwasm, dir.path(), &sizes, &mut table)?;
        }
    }
    if only.has("langs") {
        langs::rows(&nativesock_binary()?, dir.path(), &sizes, &mut table)?;
    }
    if only.has("startup") {
        startup(dir.path(), &sizes, &mut table)?;
    }
    println!();
    table.print();
    Ok(())
}

fn machine_info(nofile: u64) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cpus} CPUs ({cpu}), Linux {}, load average {}, RLIMIT_NOFILE {nofile}",
        kernel.trim(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// Runs `f` with a peer of `kind`, then waits for the peer.
fn with_peer(kind: Peer, f: impl FnOnce(u16) -> Result<u64>) -> Result<u64> {
    let (port, thread) = native::peer(kind)?;
    let ns = f(port)?;
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("the peer panicked"))?;
    Ok(ns)
}

fn percall(guests: &Guests, sizes: &Sizes, python: bool, table: &mut Table) -> Result<()> {
    eprintln!("per-call: getsockname x {}", sizes.getsockname);
    let n = sizes.getsockname;
    let arg = n.to_string();
    let (mut native, mut ours, mut cpython) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..sizes.repeats {
        native.push(native::getsockname(n)? as f64 / n as f64);
        let ns = wasm::run_timed(
            &guests.engine,
            &guests.app,
            Net::Nativesock,
            &["getsockname", &arg],
        )?;
        ours.push(ns as f64 / n as f64);
        if python {
            cpython.push(run_python(&["getsockname", "0", &arg])? as f64 / n as f64);
        }
    }
    table.measure(
        "getsockname, per call",
        "ns",
        Better::Lower,
        &[
            (Imp::Native, native),
            (Imp::Nativesock, ours),
            (Imp::CPython, cpython),
        ],
        Some(Target { ratio: 2.0 }),
    );
    Ok(())
}

/// An empty list of samples for each implementation that connect and
/// throughput compare.
fn empty_figures() -> Vec<(Imp, Vec<f64>)> {
    [
        Imp::Native,
        Imp::Nativesock,
        Imp::NativeInterface,
        Imp::WasiSockets,
        Imp::CPython,
    ]
    .map(|imp| (imp, Vec::new()))
    .to_vec()
}

/// The order of `count` implementations in repeat `repeat`: each repeat
/// starts with the next one. Every connection leaves a socket in TIME_WAIT,
/// and the kernel's search for a free ephemeral port slows down as they
/// pile up, so a fixed order would favour whoever goes first.
fn rotation(count: usize, repeat: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |k| (k + repeat) % count)
}

fn connect(guests: &Guests, sizes: &Sizes, python: bool, table: &mut Table) -> Result<()> {
    // Many short samples rather than a few long ones: the ratio is the
    // median of each sample's ratio to the native sample beside it, so the
    // more pairs, the less a shared machine's drifts show.
    let samples = sizes.repeats * 4;
    let n = (sizes.connects / 4).max(1);
    eprintln!("connect + close: {samples} samples of {n}");
    let mut figures = empty_figures();
    for repeat in 0..samples {
        for i in rotation(figures.len(), repeat) {
            let (imp, samples) = &mut figures[i];
            let ns = match imp {
                Imp::Native => with_peer(Peer::Drop(n), |port| native::connect(port, n))?,
                Imp::Nativesock | Imp::WasiSockets | Imp::NativeInterface => {
                    let (pre, net) = guest(guests, *imp);
                    let mode = match imp {
                        Imp::NativeInterface => "raw-connect",
                        _ => "connect",
                    };
                    with_peer(Peer::Drop(n), |port| {
                        wasm::run_timed(
                            &guests.engine,
                            pre,
                            net,
                            &[mode, &port.to_string(), &n.to_string()],
                        )
                    })?
                }
                Imp::CPython if python => with_peer(Peer::Drop(n), |port| {
                    run_python(&["connect", &port.to_string(), &n.to_string()])
                })?,
                Imp::CPython | Imp::PyBinding | Imp::Node | Imp::JsBinding => continue,
            };
            samples.push(ns as f64 / n as f64 / 1e3);
        }
    }
    let samples_of = |which: Imp| {
        figures
            .iter()
            .find(|(imp, _)| *imp == which)
            .map_or(&[][..], |(_, samples)| samples.as_slice())
    };
    // Paired, as every other ratio in the table.
    let speed_up = paired_ratio(samples_of(Imp::WasiSockets), samples_of(Imp::Nativesock));
    table.measure(
        "connect + close, per connection",
        "µs",
        Better::Lower,
        &figures,
        Some(Target { ratio: 1.2 }),
    );
    table.absolute(
        "connect + close: wasi:sockets / nativesock",
        "speed-up over wasi:sockets",
        speed_up,
        "x",
        None,
        None,
    );
    Ok(())
}

fn guest(
    guests: &Guests,
    imp: Imp,
) -> (
    &wasmtime_wasi::p2::bindings::sync::CommandPre<nativesock::run::AppState>,
    Net,
) {
    match imp {
        Imp::WasiSockets => (&guests.wasi, Net::WasiSockets),
        _ => (&guests.app, Net::Nativesock),
    }
}

/// One throughput measure: the app's and CPython's mode, the Python method
/// named in the table, the native call, and whether it sends.
struct Flow {
    mode: &'static str,
    what: &'static str,
    call: native::Call,
    sends: bool,
}

const FLOWS: [Flow; 6] = [
    Flow {
        mode: "sendall",
        what: "sendall",
        call: native::Call::Plain,
        sends: true,
    },
    Flow {
        mode: "send",
        what: "send",
        call: native::Call::Plain,
        sends: true,
    },
    Flow {
        mode: "sendmsg",
        what: "sendmsg",
        call: native::Call::Msg,
        sends: true,
    },
    Flow {
        mode: "recv",
        what: "recv",
        call: native::Call::Plain,
        sends: false,
    },
    Flow {
        mode: "recv-into",
        what: "recv_into",
        call: native::Call::Plain,
        sends: false,
    },
    Flow {
        mode: "recvmsg",
        what: "recvmsg",
        call: native::Call::Msg,
        sends: false,
    },
];

fn throughput(guests: &Guests, sizes: &Sizes, python: bool, table: &mut Table) -> Result<()> {
    let bytes = sizes.bytes;
    eprintln!(
        "throughput: {} MiB each way, {} KiB buffers",
        bytes >> 20,
        CHUNK >> 10
    );
    for flow in &FLOWS {
        let mut figures = empty_figures();
        // The diagnostic rows (the host layer alone, wasi:sockets) are
        // measured for `sendall` and `recv`: they have no `sendmsg`.
        if !matches!(flow.mode, "sendall" | "recv") {
            figures.retain(|(imp, _)| !matches!(imp, Imp::NativeInterface | Imp::WasiSockets));
        }
        let kind = || {
            if flow.sends {
                Peer::Sink
            } else {
                Peer::Source(bytes, CHUNK)
            }
        };
        let args = |mode: &str, port: u16| {
            [
                mode.to_owned(),
                port.to_string(),
                bytes.to_string(),
                CHUNK.to_string(),
            ]
        };
        for repeat in 0..sizes.repeats {
            for i in rotation(figures.len(), repeat) {
                let (imp, samples) = &mut figures[i];
                let ns = match imp {
                    Imp::Native => with_peer(kind(), |port| {
                        if flow.sends {
                            native::send(port, bytes, CHUNK, flow.call)
                        } else {
                            native::recv(port, bytes, CHUNK, flow.call)
                        }
                    })?,
                    Imp::Nativesock | Imp::WasiSockets | Imp::NativeInterface => {
                        let (pre, net) = guest(guests, *imp);
                        let mode = match (*imp, flow.sends) {
                            (Imp::NativeInterface, true) => "raw-send",
                            (Imp::NativeInterface, false) => "raw-recv",
                            _ => flow.mode,
                        };
                        with_peer(kind(), |port| {
                            let a = args(mode, port);
                            let a: Vec<&str> = a.iter().map(String::as_str).collect();
                            wasm::run_timed(&guests.engine, pre, net, &a)
                        })?
                    }
                    Imp::CPython if python => with_peer(kind(), |port| {
                        let a = args(flow.mode, port);
                        let a: Vec<&str> = a.iter().map(String::as_str).collect();
                        run_python(&a)
                    })?,
                    Imp::CPython | Imp::PyBinding | Imp::Node | Imp::JsBinding => continue,
                };
                samples.push(bytes as f64 / GIB as f64 / (ns as f64 / 1e9));
            }
        }
        table.measure(
            &format!("{} MiB through `{}`", bytes >> 20, flow.what),
            "GiB/s",
            Better::Higher,
            &figures,
            Some(Target { ratio: 0.9 }),
        );
    }
    Ok(())
}

fn conns(cwasm: &Path, sizes: &Sizes, nofile: u64, table: &mut Table) -> Result<()> {
    // The clients' fds, the peer's are in its own process; some to spare.
    let n = sizes.conns.min(nofile.saturating_sub(64));
    if n < sizes.conns {
        eprintln!(
            "RLIMIT_NOFILE is {nofile}: {n} connections, not {}",
            sizes.conns
        );
    }
    eprintln!("scale: {n} open connections in one store");
    let (mut native_t, mut native_m, mut ours_t, mut ours_m) = (vec![], vec![], vec![], vec![]);
    let (arg_n, cwasm) = (n.to_string(), cwasm.to_string_lossy().into_owned());
    for _ in 0..sizes.scale_repeats {
        let peer = child::HoldPeer::start()?;
        let port = peer.port.to_string();
        let r = child::run(&["native-hold", &port, &arg_n])?;
        drop(peer);
        native_t.push(r[0] as f64 / n as f64 / 1e3);
        native_m.push(r[1] as f64 / n as f64);
        let peer = child::HoldPeer::start()?;
        let port = peer.port.to_string();
        let r = child::run(&["wasm-hold", &port, &arg_n, &cwasm])?;
        drop(peer);
        ours_t.push(r[0] as f64 / n as f64 / 1e3);
        ours_m.push(r[1] as f64 / n as f64);
    }
    table.measure(
        &format!("{n} open connections in one store: time per connection"),
        "µs",
        Better::Lower,
        &[(Imp::Native, native_t), (Imp::Nativesock, ours_t)],
        None,
    );
    let (native_m, ours_m) = (median(&native_m), median(&ours_m));
    table.absolute(
        &format!("{n} open connections: host memory per connection"),
        Imp::Native.name(),
        native_m,
        "bytes",
        None,
        None,
    );
    table.absolute(
        &format!("{n} open connections: host memory per connection"),
        Imp::Nativesock.name(),
        ours_m,
        "bytes",
        Some(ours_m / native_m.max(1.0)),
        None,
    );
    Ok(())
}

fn stores(
    composed: &[u8],
    cwasm: &Path,
    dir: &Path,
    sizes: &Sizes,
    table: &mut Table,
) -> Result<()> {
    let n = sizes.stores;
    eprintln!("scale: {n} stores, each with a connected socket");
    // The pooling engine compiles its own copy (its tunables may differ).
    let pool_cwasm = dir.join("app-pooling.cwasm");
    let pooling = wasm::engine(Some(n as u32))?;
    let component = Component::new(&pooling, composed).map_err(anyhow::Error::from)?;
    std::fs::write(
        &pool_cwasm,
        component.serialize().map_err(anyhow::Error::from)?,
    )?;
    drop(component);
    drop(pooling);

    let arg_n = n.to_string();
    let mut native_t = Vec::new();
    /// One allocator's runs: its name, component, child flag, figures.
    struct Run<'a> {
        name: &'a str,
        cwasm: &'a Path,
        pooling: &'a str,
        time: Vec<f64>,
        mem: Vec<f64>,
    }
    let mut runs = [
        Run {
            name: "default allocator",
            cwasm,
            pooling: "0",
            time: vec![],
            mem: vec![],
        },
        Run {
            name: "pooling allocator, fresh slots",
            cwasm: &pool_cwasm,
            pooling: "1",
            time: vec![],
            mem: vec![],
        },
        // A long-running host whose stores come and go: every slot has held
        // a store before (`nativesock::run::pooling_config` keeps it warm).
        Run {
            name: "pooling allocator, warm slots",
            cwasm: &pool_cwasm,
            pooling: "2",
            time: vec![],
            mem: vec![],
        },
    ];
    for _ in 0..sizes.scale_repeats {
        let peer = child::HoldPeer::start()?;
        let r = child::run(&["native-hold", &peer.port.to_string(), &arg_n])?;
        drop(peer);
        native_t.push(r[0] as f64 / n as f64 / 1e3);
        for run in &mut runs {
            let peer = child::HoldPeer::start()?;
            let r = child::run(&[
                "wasm-stores",
                &peer.port.to_string(),
                &arg_n,
                &run.cwasm.to_string_lossy(),
                run.pooling,
            ])?;
            drop(peer);
            run.time.push(r[0] as f64 / n as f64 / 1e3);
            run.mem.push(r[1] as f64 / n as f64 / 1024.0);
        }
    }
    let native = median(&native_t);
    table.absolute(
        &format!("{n} stores: a connected socket (native: connect)"),
        Imp::Native.name(),
        native,
        "µs",
        None,
        None,
    );
    for Run {
        name, time, mem, ..
    } in &runs
    {
        let t = median(time);
        table.absolute(
            &format!("{n} stores: set-up per store with a connected socket"),
            &format!("nativesock, {name}"),
            t,
            "µs",
            Some(paired_ratio(time, &native_t)),
            Some(100.0),
        );
        table.absolute(
            &format!("{n} stores: resident host memory per store"),
            &format!("nativesock, {name}"),
            median(mem),
            "KiB",
            None,
            Some(256.0),
        );
    }
    Ok(())
}

/// `nativesock`, built by cargo beside this program (a no-op when fresh).
fn nativesock_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("nativesock");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "--profile",
            profile,
            "-p",
            "nativesock-cli",
            "--bin",
            "nativesock",
        ])
        .env(
            "CARGO_TARGET_DIR",
            exe.parent().and_then(Path::parent).context("target dir")?,
        )
        .status();
    match status {
        Ok(s) if s.success() || bin.exists() => Ok(bin),
        _ if bin.exists() => Ok(bin),
        _ => bail!("could not build `nativesock` (`cargo build --release -p nativesock-cli`)"),
    }
}

fn startup(dir: &Path, sizes: &Sizes, table: &mut Table) -> Result<()> {
    eprintln!("start-up: `nativesock run APP trivial`");
    let bin = nativesock_binary()?;
    let app = dir.join("trivial-app.wasm");
    std::fs::write(&app, wasm::guests::APP)?;
    let run = |home: &Path| -> Result<f64> {
        let start = Instant::now();
        let status = Command::new(&bin)
            .arg("run")
            .arg(&app)
            .arg("trivial")
            .env("HOME", home)
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .stdout(Stdio::null())
            .status()?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if !status.success() {
            bail!("`nativesock run` failed ({status})");
        }
        Ok(ms)
    };
    let mut native = Vec::new();
    for _ in 0..sizes.warm_starts {
        let start = Instant::now();
        let status = child::command(&["trivial"])?.status()?;
        anyhow::ensure!(status.success(), "`bench --child trivial` failed");
        native.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let mut cold = Vec::new();
    for _ in 0..sizes.cold_starts {
        let home = tempfile::tempdir_in(dir)?;
        cold.push(run(home.path())?);
    }
    let home = tempfile::tempdir_in(dir)?;
    run(home.path())?;
    let mut warm = Vec::new();
    for _ in 0..sizes.warm_starts {
        warm.push(run(home.path())?);
    }
    let native = median(&native);
    table.absolute(
        "start-up: a trivial native process (socket, close)",
        Imp::Native.name(),
        native,
        "ms",
        None,
        None,
    );
    let cold = median(&cold);
    table.absolute(
        "start-up: `nativesock run`, empty compilation cache",
        "nativesock CLI",
        cold,
        "ms",
        Some(cold / native),
        None,
    );
    let warm = median(&warm);
    table.absolute(
        "start-up: `nativesock run`, warm compilation cache",
        "nativesock CLI",
        warm,
        "ms",
        Some(warm / native),
        Some(50.0),
    );
    Ok(())
}

/// The Python program CPython runs natively and the Python binding runs on
/// nativesock: `MODE PORT N [CHUNK]`, timing itself.
const PYTHON: &str = include_str!("../programs/socket_bench.py");

fn python_available() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("python3 not found: no CPython figures");
    }
    ok
}

fn run_python(args: &[&str]) -> Result<u64> {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(PYTHON).args(args);
    langs::timed(cmd)
}
