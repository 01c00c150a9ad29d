//! What the build scripts of `host/` and `bench/` share: one nested
//! `cargo build --release --target wasm32-wasip2` of some of the workspace's
//! packages, with `CARGO_TARGET_DIR` inside `OUT_DIR` (the outer build holds
//! the lock on its own target dir), and the components it produced.
//!
//! On wasm32-wasip2 rustc links a `cdylib` or a `bin` straight into a
//! component (wasm-component-ld), so nothing is converted here.
//!
//! Everything here runs inside a build script: failures panic (or exit, for
//! the nested build itself) with a message for the person building.

use std::collections::BTreeSet;
use std::env;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target the guests are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// One component the nested build produced.
pub struct Artifact {
    /// The `Cargo.toml` of its package.
    pub manifest: PathBuf,
    /// Its target's name: a test program's name, or a `bin`'s.
    pub name: String,
    /// The `.wasm` file.
    pub wasm: PathBuf,
}

/// The build script's `OUT_DIR`.
pub fn out_dir() -> PathBuf {
    PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
}

/// The workspace's top directory: the nearest directory above the package
/// whose build script this is with a `Cargo.toml` that has `[workspace]`.
pub fn workspace_root() -> PathBuf {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .skip(1)
        .find(|dir| {
            fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|toml| toml.lines().any(|line| line.trim() == "[workspace]"))
        })
        .expect("the package lives in a workspace")
        .to_path_buf()
}

/// Whether [`TARGET`] is installed; when it is not, tells cargo to stop the
/// build with an error that says how to install it.
pub fn require_target(root: &Path) -> bool {
    let installed = target_installed();
    if !installed {
        println!(
            "cargo::error=the `{TARGET}` target is not installed: run `rustup toolchain install` in `{}` \
             (its rust-toolchain.toml lists the target)",
            root.display()
        );
    }
    installed
}

/// Whether the toolchain that runs the build has the standard library for
/// [`TARGET`].
pub fn target_installed() -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("failed to run `rustc --print sysroot`");
    let sysroot = String::from_utf8(output.stdout).expect("the sysroot is UTF-8");
    Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(TARGET)
        .is_dir()
}

/// Runs the nested build of `packages` (by name) in the workspace at `root`,
/// into `target_dir`, and returns its components: the `bin` and `cdylib`
/// targets' `.wasm` files. Exits the build script if the nested build fails.
pub fn build(root: &Path, target_dir: &Path, packages: &[&str]) -> Vec<Artifact> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--release", "--target", TARGET])
        .args(["--message-format", "json-render-diagnostics"])
        .args(packages.iter().flat_map(|name| ["-p", name]))
        // Inside OUT_DIR: the outer build holds the lock on its own target dir.
        .env("CARGO_TARGET_DIR", target_dir)
        // The outer build's flags are for the host's target, not wasm32.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        // Set by `cargo clippy`: the guests are linted natively, as members.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .stdout(Stdio::piped())
        // Cargo reads a build script's stdout for instructions: keep the
        // nested build's human output on stderr.
        .stderr(Stdio::inherit());
    eprintln!("running: {cmd:?}");
    let mut child = cmd.spawn().expect("failed to run the nested `cargo build`");

    let mut artifacts = Vec::new();
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    for line in stdout.lines() {
        let line = line.expect("reading the nested build's output");
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if let Some(artifact) = component(&message) {
            artifacts.push(artifact);
        }
    }
    let status = child.wait().expect("waiting for the nested `cargo build`");
    if !status.success() {
        // Exit rather than panic: cargo then shows the compiler's errors
        // above, without a backtrace of the build script.
        eprintln!("error: the nested `cargo build --target {TARGET}` failed ({status})");
        std::process::exit(1);
    }
    artifacts
}

/// The component a `compiler-artifact` message names, if it is one.
fn component(message: &serde_json::Value) -> Option<Artifact> {
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let kinds = message["target"]["kind"].as_array()?;
    if !["bin", "cdylib"]
        .iter()
        .any(|kind| kinds.iter().any(|k| k == kind))
    {
        return None;
    }
    let wasm = message["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))?;
    Some(Artifact {
        manifest: message["manifest_path"].as_str()?.into(),
        name: message["target"]["name"].as_str()?.into(),
        wasm: wasm.into(),
    })
}

/// What the nested build depends on, as far as the workspace knows it
/// before the build: the packages' directories (`dirs`, relative to `root`;
/// new files are in no dep-info file yet), `wit/`, and the workspace's
/// `Cargo.toml` and `Cargo.lock`.
pub fn watched(root: &Path, dirs: &[&str]) -> BTreeSet<PathBuf> {
    let mut deps: BTreeSet<PathBuf> = dirs.iter().map(|dir| root.join(dir)).collect();
    for file in ["wit", "Cargo.toml", "Cargo.lock"] {
        deps.insert(root.join(file));
    }
    deps
}

/// Tells cargo to run the build script again when any of `deps` changes.
pub fn rerun_if_changed(deps: &BTreeSet<PathBuf>) {
    for dep in deps {
        println!("cargo::rerun-if-changed={}", dep.display());
    }
}

/// Panics unless `wasm` is a binary component (and not a core module).
pub fn check_component(wasm: &Path) {
    let bytes =
        fs::read(wasm).unwrap_or_else(|e| panic!("failed to read `{}`: {e}", wasm.display()));
    // The preamble: magic, a version, and a layer that is 1 for components.
    let is_component = bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0];
    assert!(
        is_component,
        "`{}` is not a WebAssembly component: is `wasm-component-ld` the linker for {TARGET}?",
        wasm.display()
    );
}

/// Adds the source files listed in the dep-info file (`.d`) beside `artifact`.
pub fn read_dep_info(artifact: &Path, deps: &mut BTreeSet<PathBuf>) {
    let dep_info = artifact.with_extension("d");
    let contents = fs::read_to_string(&dep_info)
        .unwrap_or_else(|e| panic!("failed to read `{}`: {e}", dep_info.display()));
    // Makefile syntax: `target: dep dep ...`, with spaces in names escaped.
    for line in contents.lines() {
        let Some((_, files)) = line.split_once(": ") else {
            continue;
        };
        let mut parts = files.split(' ');
        while let Some(part) = parts.next() {
            let mut file = part.to_string();
            while file.ends_with('\\') {
                file.pop();
                file.push(' ');
                file.push_str(parts.next().unwrap_or_default());
            }
            if !file.is_empty() {
                deps.insert(file.into());
            }
        }
    }
}

/// Writes a generated file.
pub fn write(path: &Path, contents: &str) {
    fs::write(path, contents)
        .unwrap_or_else(|e| panic!("failed to write `{}`: {e}", path.display()));
}
