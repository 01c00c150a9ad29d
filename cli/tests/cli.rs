//! The `nativesock` binary, driven as a user would: flags, errors, exit
//! codes, the demo and Ctrl-C. Every wait is bounded.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nativesock_test_programs_artifacts::{self as programs, foreach_cli_program};

const BIN: &str = env!("CARGO_BIN_EXE_nativesock");

/// A program without a test here is a compile error.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}
foreach_cli_program!(assert_test_exists);

/// The longest one run may take (compiling the demo included).
const DEADLINE: Duration = Duration::from_secs(120);

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Output {
    fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {:?}\n{}", self.status, self.stderr))
    }
}

/// Drains a pipe on a thread, so that a chatty child never blocks.
fn drain(pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(pipe).read_to_string(&mut text);
        text
    })
}

/// Waits for `child` until `deadline` from now; kills it after that.
fn wait(child: &mut Child, deadline: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`nativesock` did not finish within {deadline:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Spawns `command` with piped output: the child, its stderr (drained on
/// a thread) and its stdout's lines as they come.
fn spawn_with_lines(
    command: &mut Command,
) -> (Child, thread::JoinHandle<String>, mpsc::Receiver<String>) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nativesock");
    let stderr = drain(child.stderr.take().unwrap());
    let (lines, next) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    (child, stderr, next)
}

fn nativesock(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nativesock");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = wait(&mut child, DEADLINE);
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Asserts that `stderr` is exactly one `error: ...` line, with no panic or backtrace.
#[track_caller]
fn assert_one_error_line(stderr: &str) {
    assert!(
        stderr.starts_with("error: ") && stderr.ends_with('\n') && stderr.lines().count() == 1,
        "not one error line: {stderr:?}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(
        !stderr.trim_end().ends_with('.'),
        "trailing period: {stderr}"
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let out = nativesock(&["run", "--no-such-flag", "app.wasm"]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("unexpected argument '--no-such-flag'"),
        "{}",
        out.stderr
    );
    let out = nativesock(&["frobnicate"]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
}

#[test]
fn a_bad_address_rule_is_a_usage_error() {
    let out = nativesock(&["run", "--allow-connect", "127.0.0.1/40", "app.wasm"]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "invalid address rule `127.0.0.1/40`: prefix length `40` is not a number in 0-32 as IPv4 needs"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn help_explains_every_flag() {
    let out = nativesock(&["run", "--help"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    for flag in [
        "-S <KEY[=VAL]>",
        "--allow-connect <RULE>",
        "--allow-bind <RULE>",
        "--allow-sendto <RULE>",
        "--allow-unix <DIR>",
        "--allow-abstract-unix",
        "--allow-name-lookup",
        "--audit-log <PATH|->",
        "--env <NAME[=VAL]>",
        "--dir <HOST_DIR[::GUEST_DIR]>",
        "inherit-network",
    ] {
        assert!(
            out.stdout.contains(flag),
            "`{flag}` missing from:\n{}",
            out.stdout
        );
    }
}

#[test]
fn a_missing_file_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.wasm");
    let out = nativesock(&["run", missing.to_str().unwrap()]);
    assert_eq!(out.code(), 1);
    assert_eq!(
        out.stderr,
        format!(
            "error: failed to read `{}`: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
    assert_one_error_line(&out.stderr);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn what_is_not_a_component_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "garbage.wasm",
            &b"#!/bin/sh\necho hello\n"[..],
            "not a WebAssembly binary",
        ),
        ("empty.wasm", b"", "not a WebAssembly binary"),
        (
            "module.wasm",
            b"\0asm\x01\0\0\0",
            "core WebAssembly module, not a component",
        ),
    ];
    for (name, bytes, problem) in cases {
        let path = write(dir.path(), name, bytes);
        let out = nativesock(&["run", &path]);
        assert_eq!(out.code(), 1, "{name}: {}", out.stderr);
        assert_one_error_line(&out.stderr);
        assert!(
            out.stderr
                .starts_with(&format!("error: failed to load `{path}`: ")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(problem), "{name}: {}", out.stderr);
    }
}

/// A component that imports `example:missing/iface@1.0.0` (one function `f`)
/// and nothing else: no host supplies it.
fn component_with_an_unknown_import() -> Vec<u8> {
    use wasm_encoder::{
        Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection, InstanceType,
    };
    let mut instance = InstanceType::new();
    let no_params: [(&str, wasm_encoder::ComponentValType); 0] = [];
    instance.ty().function().params(no_params).result(None);
    instance.export("f", ComponentTypeRef::Func(0));
    let mut types = ComponentTypeSection::new();
    types.instance(&instance);
    let mut imports = ComponentImportSection::new();
    imports.import("example:missing/iface@1.0.0", ComponentTypeRef::Instance(0));
    let mut component = Component::new();
    component.section(&types).section(&imports);
    component.finish()
}

#[test]
fn an_import_nobody_supplies_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "needs.wasm",
        &component_with_an_unknown_import(),
    );
    let out = nativesock(&["run", &path]);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert_one_error_line(&out.stderr);
    assert!(
        out.stderr.starts_with(&format!(
            "error: failed to run `{path}`: component imports instance `example:missing/iface@1.0.0`"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn the_demo_runs_on_loopback_and_exits_0() {
    for args in [&["demo"][..], &["run"]] {
        let out = nativesock(args);
        assert_eq!(
            out.code(),
            0,
            "`nativesock {}`\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
        assert!(!out.stdout.is_empty());
    }
}

/// The CLI's network flags govern `wasi:sockets` as well: a program using
/// Rust's `std::net` only gets what the flags grant.
#[test]
fn network_flags_govern_wasi_sockets_too() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let send = format!("udp=127.0.0.1:{udp_port}");
    let ops = ["listen=127.0.0.1:0", send.as_str()];
    let lines = |flags: &[&str]| {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.push(programs::WASI_SOCKETS_POLICY);
        args.extend_from_slice(&ops);
        let out = nativesock(&args);
        assert_eq!(out.code(), 0, "{}", out.stderr);
        out.stdout
    };
    let mut datagram = [0; 4];
    assert_eq!(
        lines(&["--allow-connect", "127.0.0.1"]),
        format!("listen 127.0.0.1:0: PermissionDenied\nudp 127.0.0.1:{udp_port}: ok\n"),
        "a UDP send to what the guest may connect to"
    );
    assert_eq!(udp.recv_from(&mut datagram).unwrap().0, 1);
    assert_eq!(
        lines(&["--allow-bind", "127.0.0.1:0"]),
        format!("listen 127.0.0.1:0: ok\nudp 127.0.0.1:{udp_port}: PermissionDenied\n"),
    );
    assert_eq!(
        lines(&[]),
        format!(
            "listen 127.0.0.1:0: PermissionDenied\nudp 127.0.0.1:{udp_port}: PermissionDenied\n"
        ),
    );
    assert_eq!(
        lines(&["-S", "inherit-network"]),
        format!("listen 127.0.0.1:0: ok\nudp 127.0.0.1:{udp_port}: ok\n"),
        "`-S inherit-network` grants `wasi:sockets` everything, as wasmtime's does"
    );
    assert_eq!(udp.recv_from(&mut datagram).unwrap().0, 1);
}

#[test]
fn an_audit_log_gets_one_json_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let out = nativesock(&[
        "run",
        "--allow-connect",
        "127.0.0.0/8",
        "--allow-bind",
        "127.0.0.0/8",
        "--audit-log",
        log.to_str().unwrap(),
        programs::AUDIT_EVENTS,
    ]);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.starts_with(r#"{"event":"socket.__new__","args":["#)),
        "exit {}: {}\n--- log\n{text}",
        out.code(),
        out.stderr
    );
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(
            value["event"].is_string() && value["args"].is_array(),
            "{line}"
        );
    }
}

#[test]
fn ctrl_c_interrupts_a_blocking_connect_and_exits_130() {
    // The program connects to a listener whose backlog is full: without a
    // signal that connect would hang for minutes.
    let mut command = Command::new(BIN);
    command.args([
        "run",
        "--allow-connect",
        "127.0.0.0/8",
        "--allow-bind",
        "127.0.0.0/8",
        programs::CONNECT_SIGNAL_RAISES,
    ]);
    let (mut child, stderr, connecting) = spawn_with_lines(&mut command);
    let start = Instant::now();
    loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        match connecting.recv_timeout(left) {
            Ok(line) if line == "connecting" => break,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no `connecting` line: {}", stderr.join().unwrap());
            }
        }
    }
    // Let the connect block, then press Ctrl-C.
    thread::sleep(Duration::from_millis(300));
    let pid = i32::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let signalled = Instant::now();
    let status = wait(&mut child, Duration::from_secs(30));
    let stderr = stderr.join().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "the connect was not interrupted: {stderr}"
    );
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("KeyboardInterrupt"), "{stderr}");
}

#[test]
fn compose_writes_a_component_that_runs_as_the_app_does() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("composed.wasm");
    let out_path = out_path.to_str().unwrap();
    let app = programs::SCM_RIGHTS_PASSING;
    let out = nativesock(&["compose", app, "-o", out_path]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));

    let original = nativesock(&["run", app]);
    assert_eq!(original.code(), 0, "{}", original.stderr);
    let composed = nativesock(&["run", out_path]);
    assert_eq!(composed.code(), 0, "{}", composed.stderr);
    // The same lines, fd numbers aside: which numbers the host hands out
    // depends on what else it has open (the compilation cache's files).
    let numbers_out = |text: &str| -> String {
        let mut out = String::new();
        for c in text.chars() {
            match c {
                '0'..='9' if out.ends_with('#') => {}
                '0'..='9' => out.push('#'),
                c => out.push(c),
            }
        }
        out
    };
    assert_eq!(numbers_out(&composed.stdout), numbers_out(&original.stdout));
    assert!(!composed.stdout.is_empty());

    // The result no longer imports the socket interface: composing it again
    // has nothing to do.
    let again = nativesock(&["compose", out_path, "-o", out_path]);
    assert_eq!(again.code(), 1);
    assert_one_error_line(&again.stderr);
    assert_eq!(
        again.stderr,
        format!(
            "error: `{out_path}` does not import `nativesock:socket/socket@0.1.0`: there is nothing to compose\n"
        )
    );
}

#[test]
fn compose_refuses_what_it_cannot_compose_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.wasm");
    let out_path = out_path.to_str().unwrap();
    let garbage = write(dir.path(), "garbage.wasm", b"#!/bin/sh\n");
    let missing = dir.path().join("missing.wasm");
    let missing = missing.to_str().unwrap();
    let cases = [
        (
            programs::NO_SOCKET_IMPORT,
            "does not import `nativesock:socket/socket@0.1.0`",
        ),
        (garbage.as_str(), "not a WebAssembly binary"),
        (missing, "No such file or directory"),
    ];
    for (app, problem) in cases {
        let out = nativesock(&["compose", app, "-o", out_path]);
        assert_eq!(out.code(), 1, "{app}: {}", out.stderr);
        assert_one_error_line(&out.stderr);
        assert!(out.stderr.contains(problem), "{app}: {}", out.stderr);
        assert!(!Path::new(out_path).exists(), "{app}: wrote {out_path}");
    }
    // An output that cannot be written is named.
    let nowhere = dir.path().join("no/such/dir/out.wasm");
    let nowhere = nowhere.to_str().unwrap();
    let out = nativesock(&["compose", programs::SCM_RIGHTS_PASSING, "-o", nowhere]);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert_one_error_line(&out.stderr);
    assert!(
        out.stderr
            .starts_with(&format!("error: failed to write `{nowhere}`: ")),
        "{}",
        out.stderr
    );
    // Without `-o`: clap's usage error.
    let out = nativesock(&["compose", programs::SCM_RIGHTS_PASSING]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("--output <OUT.wasm>"), "{}", out.stderr);
}

#[test]
fn wit_writes_the_package_as_the_repository_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("app/wit");
    let out = nativesock(&["wit", target.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let mut compared = 0;
    for sub in ["", "deps"] {
        for entry in std::fs::read_dir(repo.join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                let name = Path::new(sub).join(entry.file_name());
                let written = std::fs::read(target.join(&name))
                    .unwrap_or_else(|e| panic!("{}: {e}", name.display()));
                assert_eq!(
                    written,
                    std::fs::read(entry.path()).unwrap(),
                    "{}",
                    name.display()
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 9, "{compared} files");

    // A file where the directory should be: one clear line.
    let file = write(dir.path(), "file", b"x");
    let out = nativesock(&["wit", &file]);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert_one_error_line(&out.stderr);
    assert!(
        out.stderr.starts_with("error: failed to "),
        "{}",
        out.stderr
    );
}

/// Runs `command` (a `cli_listen_fds` run) and plays its clients: for each
/// `fd N NAME PORT` line, connects to PORT on `host` and checks the answer.
/// Returns the `(fd, name)` of every socket the program served on.
fn serve_handed_in(mut command: Command, host: &str) -> Vec<(String, String)> {
    use std::io::Write as _;
    let (mut child, stderr, next) = spawn_with_lines(&mut command);
    let start = Instant::now();
    let mut served = Vec::new();
    loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        let Ok(line) = next.recv_timeout(left) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the program stopped early: {}", stderr.join().unwrap());
        };
        if line == "served" {
            break;
        }
        let words: Vec<&str> = line.split(' ').collect();
        let ["fd", fd, name, port] = words[..] else {
            panic!("unexpected line {line:?}");
        };
        // The program accepts in fd order, as these lines come.
        let mut stream =
            std::net::TcpStream::connect((host, port.parse::<u16>().unwrap())).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.write_all(b"hello\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, format!("{name}: hello\n"));
        served.push((fd.to_owned(), name.to_owned()));
    }
    let status = wait(&mut child, DEADLINE);
    assert_eq!(status.code(), Some(0), "{}", stderr.join().unwrap());
    served
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// `--listen ADDR`: the host binds, the guest accepts on fd 3, 4, ... with
/// no bind grant, and finds them through `LISTEN_FDS`/`LISTEN_FDNAMES`.
#[test]
fn cli_listen_fds() {
    let mut command = Command::new(BIN);
    command.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0",
        programs::CLI_LISTEN_FDS,
    ]);
    assert_eq!(
        serve_handed_in(command, "127.0.0.1"),
        pairs(&[("3", "listen"), ("4", "listen")])
    );
}

/// Moves `fds` to 3, 4, ... in the child, as systemd does, and runs `args`
/// with `LISTEN_PID` set to the child's own pid (a shell that `exec`s keeps
/// its pid) when `own_pid`, or to another process's.
fn socket_activated(fds: &[RawFd], names: Option<&str>, own_pid: bool, args: &[&str]) -> Command {
    use std::os::unix::process::CommandExt as _;
    let pid = if own_pid { "$$" } else { "1" };
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("LISTEN_PID={pid} exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args)
        .env("LISTEN_FDS", fds.len().to_string());
    match names {
        Some(names) => command.env("LISTEN_FDNAMES", names),
        None => command.env_remove("LISTEN_FDNAMES"),
    };
    let fds = fds.to_vec();
    // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // Out of the way first, so that moving one cannot close another.
            let mut high = Vec::with_capacity(fds.len());
            for &fd in &fds {
                let copy = libc::fcntl(fd, libc::F_DUPFD, 100);
                if copy < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push(copy);
            }
            for (i, &fd) in high.iter().enumerate() {
                if libc::dup2(fd, 3 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            Ok(())
        });
    }
    command
}

/// systemd socket activation: the guest serves on the sockets systemd
/// passed, under their names, then on `--listen`'s after them.
#[test]
fn systemd_sockets_are_the_guests_fds_under_their_names() {
    let web = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fds = [web.as_raw_fd(), admin.as_raw_fd()];
    let args = ["run", "--listen", "127.0.0.1:0", programs::CLI_LISTEN_FDS];
    let command = socket_activated(&fds, Some("web:admin"), true, &args);
    assert_eq!(
        serve_handed_in(command, "127.0.0.1"),
        pairs(&[("3", "web"), ("4", "admin"), ("5", "listen")])
    );
    // Without names, systemd's default name.
    let command = socket_activated(&fds[..1], None, true, &args);
    assert_eq!(
        serve_handed_in(command, "127.0.0.1"),
        pairs(&[("3", "unknown"), ("4", "listen")])
    );
    // `LISTEN_PID` of another process: its sockets are not taken, and they
    // keep fd 3 and 4, so `--listen`'s socket cannot be fd 3.
    let mut command = socket_activated(&fds, Some("web:admin"), false, &args);
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: fd 3 is taken by another file, so the socket cannot be handed in as fd 3\n"
    );
}

/// What cannot be handed in is one clear line, exit 1.
#[test]
fn sockets_that_cannot_be_handed_in_are_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = nativesock(&["run", "--listen", &address, programs::CLI_LISTEN_FDS]);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert_one_error_line(&out.stderr);
    assert!(
        out.stderr
            .starts_with(&format!("error: failed to listen on `{address}`: ")),
        "{}",
        out.stderr
    );

    // systemd passing a file where a socket should be.
    let file = tempfile::tempfile().unwrap();
    let mut command = socket_activated(
        &[file.as_raw_fd()],
        Some("web"),
        true,
        &["run", programs::CLI_LISTEN_FDS],
    );
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_one_error_line(&stderr);
    assert_eq!(
        stderr,
        "error: fd 3 from `LISTEN_FDS` (`web`) cannot be handed to the guest: fd 3 is not a socket\n"
    );

    // Names that do not match the count.
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut command = socket_activated(
        &[socket.as_raw_fd()],
        Some("a:b"),
        true,
        &["run", programs::CLI_LISTEN_FDS],
    );
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: `LISTEN_FDNAMES` names 2 fds but `LISTEN_FDS` passes 1\n"
    );

    // A bad `--listen` address is a usage error.
    let out = nativesock(&["run", "--listen", "localhost", programs::CLI_LISTEN_FDS]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
}

/// The CLI's flags for the limits and the audit log, end to end.
#[test]
fn limit_and_audit_flags_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let out = std::process::Command::new(BIN)
        .args(["run", "--allow-connect", "127.0.0.0/8", "--audit-log"])
        .arg(&log)
        .args(["--max-open-sockets", "4", "--max-send-bytes", "1000"])
        .args(["--max-blocking-ms", "5000", programs::TRUST_DENIED_AUDIT])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(r#"{"event":"nativesock.denied","args":["connect","#)
            && last.ends_with(r#"["10.0.0.1",80]]}"#),
        "{text}"
    );
    let help = std::process::Command::new(BIN)
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--allow-connect",
        "--allow-bind",
        "--allow-sendto",
        "--allow-unix",
        "--allow-abstract-unix",
        "--allow-name-lookup",
        "--audit-log",
        "--max-recv-bytes",
        "--max-send-bytes",
        "--max-open-sockets",
        "--max-blocking-ms",
        "nativesock.denied",
    ] {
        assert!(
            help.contains(flag),
            "`run --help` does not explain {flag}:\n{help}"
        );
    }
}

/// Under a 1024-fd `RLIMIT_NOFILE` and a store cap above it, a guest that
/// opens sockets until refused gets `EMFILE` from the host's reserve, and
/// the CLI (run as its own process, with the lowered limit) goes on
/// writing the guest's output and exits 0, not with a panic (101).
#[test]
fn cli_fd_limit() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        "--max-open-sockets",
        "100000",
        programs::CLI_FD_LIMIT,
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // SAFETY: `setrlimit` is async-signal-safe; nothing else runs between
    // fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_cur = 1024.min(limit.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = result
        .recv_timeout(Duration::from_secs(120))
        .expect("the CLI ended")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("opened ")
            && first.ends_with(" sockets, then OSError: [Errno 24] Too many open files"),
        "{first}"
    );
    let opened: usize = first.split(' ').nth(1).unwrap().parse().unwrap();
    assert!((800..1024 - 64).contains(&opened), "{opened}");
    assert!(stdout.contains("still writing 199\ndone\n"), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
