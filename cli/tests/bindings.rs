//! The language bindings, built and run under the `nativesock` CLI.
//!
//! - Python (`bindings/python`): each program in `bindings/python/tests/`
//!   is built with `bindings/python/build` (which installs its pinned
//!   componentize-py on first use), run with loopback and a temporary unix
//!   directory granted, and compared with `python3` running the same file
//!   natively: stdout, stderr and exit status, line by line.
//! - JavaScript (`bindings/js`): the example is built with
//!   `bindings/js/build` (pinned componentize-js and esbuild, installed on
//!   first use) and its output compared with `examples/echo.expected`.
//!
//! Every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nativesock");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `cmd` to the end, killing it after `limit`.
fn run(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id();
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    loop {
        if let Ok(out) = rx.try_recv() {
            return out.unwrap();
        }
        if start.elapsed() > limit {
            // SAFETY: `pid` is our child, still running (not yet reaped).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `nativesock run` with loopback (IPv4) granted for connect, bind and sendto.
fn nativesock_run() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("run");
    for flag in ["--allow-connect", "--allow-bind", "--allow-sendto"] {
        cmd.args([flag, "127.0.0.1"]);
    }
    cmd
}

/// Runs `cmd` (a build or a lint) and fails the test, with its output,
/// unless it succeeds.
fn must_succeed(cmd: Command, limit: Duration) {
    let out = run(cmd, limit);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Builds `program`, runs it both ways with a fresh unix directory as its
/// argument, and compares.
fn differential(program: &str) {
    let source = root()
        .join("bindings/python/tests")
        .join(program)
        .canonicalize()
        .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let wasm = out_dir.path().join("app.wasm");
    let mut build = Command::new(root().join("bindings/python/build"));
    build.arg(&source).arg(&wasm);
    must_succeed(build, Duration::from_secs(600));

    let ours_dir = tempfile::tempdir().unwrap();
    let mut ours = nativesock_run();
    ours.arg("--allow-unix")
        .arg(ours_dir.path())
        .arg(&wasm)
        .arg(ours_dir.path());
    let ours = run(ours, Duration::from_secs(300));

    let native_dir = tempfile::tempdir().unwrap();
    let mut native = Command::new("python3");
    native.arg(&source).arg(native_dir.path());
    let native = run(native, Duration::from_secs(60));

    assert_eq!(
        text(&ours.stdout).lines().collect::<Vec<_>>(),
        text(&native.stdout).lines().collect::<Vec<_>>(),
        "stdout: nativesock (left), python3 (right); nativesock's stderr:\n{}",
        text(&ours.stderr)
    );
    // The one difference a program can see between the component's CPython
    // 3.14 and the `python3` (3.11) whose semantics nativesock has: 3.14's
    // tracebacks underline more expressions (`~~~~^^^` lines; see README).
    let traceback = |o: &Output| -> Vec<String> {
        text(&o.stderr)
            .lines()
            .filter(|l| !(l.contains(['^', '~']) && l.trim().chars().all(|c| c == '^' || c == '~')))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        traceback(&ours),
        traceback(&native),
        "stderr: nativesock (left), python3 (right)"
    );
    // componentize-py's `run` knows only success and failure (see README).
    let status = |o: &Output| o.status.code().map(|c| c.min(1));
    assert_eq!(status(&ours), status(&native), "exit status");
}

#[test]
fn python_sockets_program_matches_python3() {
    differential("sockets.py");
}

#[test]
fn python_uncaught_exception_matches_python3() {
    differential("uncaught.py");
}

#[test]
fn python_select_module_matches_python3() {
    differential("select_module.py");
}

#[test]
fn python_stdlib_servers_match_python3() {
    differential("servers.py");
}

#[test]
fn python_asyncio_streams_match_python3() {
    differential("asyncio_streams.py");
}

#[test]
fn python_binding_is_lint_clean() {
    must_succeed(
        Command::new(root().join("bindings/python/lint")),
        Duration::from_secs(300),
    );
}

#[test]
fn js_example_matches_its_expected_output() {
    let js = root().join("bindings/js");
    let out_dir = tempfile::tempdir().unwrap();
    let wasm = out_dir.path().join("echo.wasm");
    let mut build = Command::new(js.join("build"));
    build.arg(js.join("examples/echo.js")).arg(&wasm);
    must_succeed(build, Duration::from_secs(600));
    let mut ours = nativesock_run();
    ours.arg(&wasm);
    let ours = run(ours, Duration::from_secs(120));
    let expected = std::fs::read_to_string(js.join("examples/echo.expected")).unwrap();
    assert_eq!(
        text(&ours.stdout).lines().collect::<Vec<_>>(),
        expected.lines().collect::<Vec<_>>(),
        "stdout (left), examples/echo.expected (right); stderr:\n{}",
        text(&ours.stderr)
    );
    assert!(ours.status.success(), "exit status {:?}", ours.status);
}

#[test]
fn js_binding_is_lint_clean() {
    must_succeed(
        Command::new(root().join("bindings/js/lint")),
        Duration::from_secs(300),
    );
}

/// `id -> outcome` (`ok`, `skipped`, `FAIL`, `ERROR`...) from unittest's
/// verbose output: `name (test.test_socket.Class.name) ... outcome`.
fn unittest_outcomes(out: &str) -> std::collections::BTreeMap<String, String> {
    out.lines()
        .filter_map(|line| {
            let (head, outcome) = line.split_once(" ... ")?;
            let id = head
                .split_once(" (test.test_socket.")?
                .1
                .strip_suffix(')')?;
            let outcome = outcome.split_whitespace().next().unwrap_or("").to_owned();
            Some((id.to_owned(), outcome))
        })
        .collect()
}

/// CPython's own `Lib/test/test_socket.py` (the native `python3`'s: the
/// semantics nativesock has), every test class without threads, run in a
/// component and natively. Their outcomes must be the same except for the
/// tests `bindings/python/tests/test_socket_differences.txt` lists, each
/// with its reason, and those must differ.
#[test]
fn python_cpython_test_socket_matches_python3_but_for_the_listed_tests() {
    let stdlib_test = Command::new("python3")
        .args([
            "-c",
            "import os, test; print(os.path.dirname(test.__file__))",
        ])
        .output()
        .unwrap();
    assert!(stdlib_test.status.success(), "python3 has no test package");
    let stdlib_test = PathBuf::from(text(&stdlib_test.stdout).trim());
    // Only what test_socket imports: the package, test.support, test_socket.
    let lib = tempfile::tempdir().unwrap();
    let test = lib.path().join("test");
    std::fs::create_dir_all(&test).unwrap();
    for file in ["__init__.py", "test_socket.py"] {
        std::fs::copy(stdlib_test.join(file), test.join(file)).unwrap();
    }
    let copied = Command::new("cp")
        .arg("-r")
        .arg(stdlib_test.join("support"))
        .arg(&test)
        .status()
        .unwrap();
    assert!(copied.success());

    let runner = root().join("bindings/python/tests/cpython_test_socket.py");
    let out_dir = tempfile::tempdir().unwrap();
    let wasm = out_dir.path().join("test_socket.wasm");
    let mut build = Command::new(root().join("bindings/python/build"));
    build.arg("-p").arg(lib.path()).arg(&runner).arg(&wasm);
    must_succeed(build, Duration::from_secs(600));

    let ours_dir = tempfile::tempdir().unwrap();
    let mut ours = nativesock_run();
    ours.arg("--dir").arg(ours_dir.path());
    for flag in ["--allow-connect", "--allow-bind", "--allow-sendto"] {
        ours.args([flag, "::1"]);
    }
    // `localhost` is the only name the tests look up (socket_helper.HOST).
    ours.arg("--allow-name-lookup")
        .arg("--allow-unix")
        .arg(ours_dir.path())
        .arg(&wasm)
        .arg(ours_dir.path());
    let ours = run(ours, Duration::from_secs(600));

    let native_dir = tempfile::tempdir().unwrap();
    let mut native = Command::new("python3");
    native
        .arg(&runner)
        .arg(native_dir.path())
        .env("PYTHONPATH", lib.path());
    let native = run(native, Duration::from_secs(600));

    let ours_out = text(&ours.stdout);
    let ours = unittest_outcomes(&ours_out);
    let native = unittest_outcomes(&text(&native.stdout));
    assert!(native.len() > 100, "native run: {native:?}");
    let listed: std::collections::BTreeMap<String, String> =
        std::fs::read_to_string(root().join("bindings/python/tests/test_socket_differences.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (id, reason) = l.split_once(": ").expect("`Class.test: reason`");
                (id.to_owned(), reason.to_owned())
            })
            .collect();
    let differing: Vec<String> = native
        .iter()
        .filter(|(id, outcome)| ours.get(*id) != Some(outcome))
        .map(|(id, outcome)| format!("{id}: {outcome} natively, {:?} here", ours.get(id)))
        .collect();
    let unexpected: Vec<&String> = differing
        .iter()
        .filter(|d| !listed.contains_key(d.split_once(':').unwrap().0))
        .collect();
    let no_longer: Vec<&String> = listed
        .keys()
        .filter(|id| ours.get(*id) == native.get(*id))
        .collect();
    let passed =
        |o: &std::collections::BTreeMap<String, String>| o.values().filter(|v| *v == "ok").count();
    println!(
        "test_socket: {} of {} tests pass in the component ({} natively)",
        passed(&ours),
        native.len(),
        passed(&native)
    );
    assert!(
        unexpected.is_empty() && no_longer.is_empty(),
        "differ but not listed: {unexpected:#?}\nlisted but the same: {no_longer:#?}\ncomponent output:\n{ours_out}"
    );
}
