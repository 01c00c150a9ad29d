//! The cross-language rows: the bench's Python program (`programs/
//! socket_bench.py`) built with `bindings/python` and its JavaScript program
//! (`programs/socket_bench.js`) built with `bindings/js`, run by `nativesock
//! run` beside CPython and Node.js's `net` running the same loops natively.
//! Every program times its own loop, so neither start-up nor compilation is
//! in a figure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::native::Peer;
use crate::{Better, CHUNK, GIB, Imp, Sizes, Table, rotation, with_peer};

/// The workspace's root.
fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn program(name: &str) -> PathBuf {
    root().join("bench/programs").join(name)
}

/// Whether `cmd --version` runs.
fn available(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Builds `source` with a binding's build script (`bindings/LANG/build`)
/// into `out`; `None`, with the reason on stderr, when it cannot.
fn build(lang: &str, source: &Path, out: &Path) -> Option<PathBuf> {
    eprintln!("building {} with bindings/{lang}/build", source.display());
    let status = Command::new(root().join("bindings").join(lang).join("build"))
        .arg(source)
        .arg(out)
        .stdout(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Some(out.to_owned()),
        Ok(s) => {
            eprintln!("bindings/{lang}/build failed ({s}): no {lang} binding rows");
            None
        }
        Err(e) => {
            eprintln!("bindings/{lang}/build: {e}: no {lang} binding rows");
            None
        }
    }
}

/// Runs `cmd` and parses the number it prints (nanoseconds).
pub fn timed(mut cmd: Command) -> Result<u64> {
    let output = cmd.stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        bail!("{cmd:?} failed ({})", output.status);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("{cmd:?} printed {text:?}"))
}

/// `nativesock run` of a built component with loopback granted.
fn nativesock(bin: &Path, wasm: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("run");
    for flag in ["--allow-connect", "--allow-bind"] {
        cmd.args([flag, "127.0.0.1"]);
    }
    cmd.arg(wasm).args(args);
    cmd
}

/// One language: its native runtime and its binding's component.
struct Lang {
    /// The native implementation (CPython, Node.js), its interpreter and
    /// the program it runs.
    native: (Imp, &'static str, PathBuf),
    /// The binding's component.
    binding: (Imp, PathBuf),
}

/// The measures every language has: the programs' mode, what the table
/// says, and the count (calls, connections, bytes).
fn measures(sizes: &Sizes) -> [(&'static str, String, u64); 4] {
    let mib = sizes.bytes >> 20;
    [
        (
            "getsockname",
            "getsockname, per call".into(),
            sizes.getsockname,
        ),
        (
            "connect",
            "connect + close, per connection".into(),
            (sizes.connects / 4).max(1),
        ),
        (
            "sendall",
            format!("{mib} MiB through `sendall`"),
            sizes.bytes,
        ),
        ("recv", format!("{mib} MiB through `recv`"), sizes.bytes),
    ]
}

/// The Python and JavaScript rows.
pub fn rows(bin: &Path, dir: &Path, sizes: &Sizes, table: &mut Table) -> Result<()> {
    let mut langs = Vec::new();
    if available("python3") {
        if let Some(wasm) = build(
            "python",
            &program("socket_bench.py"),
            &dir.join("socket_bench_py.wasm"),
        ) {
            langs.push((
                "Python",
                Lang {
                    native: (Imp::CPython, "python3", program("socket_bench.py")),
                    binding: (Imp::PyBinding, wasm),
                },
            ));
        }
    } else {
        eprintln!("python3 not found: no Python binding rows");
    }
    if available("node") {
        if let Some(wasm) = build(
            "js",
            &program("socket_bench.js"),
            &dir.join("socket_bench_js.wasm"),
        ) {
            langs.push((
                "JavaScript",
                Lang {
                    native: (Imp::Node, "node", program("node_net_bench.mjs")),
                    binding: (Imp::JsBinding, wasm),
                },
            ));
        }
    } else {
        eprintln!("node not found: no JavaScript binding rows");
    }
    for (name, lang) in &langs {
        // A first run fills the CLI's compilation cache.
        timed(nativesock(
            bin,
            &lang.binding.1,
            &["getsockname".into(), "0".into(), "1".into()],
        ))?;
        for (mode, what, n) in measures(sizes) {
            eprintln!("{name}: {what}");
            let peer = || match mode {
                "connect" => Some(Peer::Drop(n)),
                "sendall" => Some(Peer::Sink),
                "recv" => Some(Peer::Source(n, CHUNK)),
                _ => None,
            };
            let mut figures = vec![(lang.native.0, Vec::new()), (lang.binding.0, Vec::new())];
            for repeat in 0..sizes.repeats {
                for i in rotation(2, repeat) {
                    let run = |port: u16| -> Result<u64> {
                        let args: Vec<String> = [mode.to_owned(), port.to_string(), n.to_string()]
                            .into_iter()
                            .chain(
                                (mode != "getsockname" && mode != "connect")
                                    .then(|| CHUNK.to_string()),
                            )
                            .collect();
                        if i == 0 {
                            let (_, interpreter, script) = &lang.native;
                            let mut cmd = Command::new(interpreter);
                            cmd.arg(script).args(&args);
                            timed(cmd)
                        } else {
                            timed(nativesock(bin, &lang.binding.1, &args))
                        }
                    };
                    let ns = match peer() {
                        Some(kind) => with_peer(kind, run)?,
                        None => run(0)?,
                    } as f64;
                    figures[i].1.push(match mode {
                        "getsockname" => ns / n as f64,
                        "connect" => ns / n as f64 / 1e3,
                        _ => n as f64 / GIB as f64 / (ns / 1e9),
                    });
                }
            }
            let (unit, better) = match mode {
                "getsockname" => ("ns", Better::Lower),
                "connect" => ("µs", Better::Lower),
                _ => ("GiB/s", Better::Higher),
            };
            table.measure_against(
                lang.native.0,
                &format!("{name}: {what}"),
                unit,
                better,
                &figures,
                None,
            );
        }
    }
    Ok(())
}
