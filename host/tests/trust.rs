//! The host as a security boundary: each test runs the `trust_*` program of
//! the same name. Several import `nativesock:socket/native` directly, as a
//! hostile guest that skips the semantics component would; the others go
//! through it and check what a Python program would see when the host
//! refuses, limits, cancels or injects faults.

mod common;

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use nativesock::run::AppState;
use nativesock::{
    AuditArg, AuditEvent, AuditScalar, Call, DENIED_EVENT, Fault, LIMIT_EVENT, NativesockCtx,
};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use nativesock_test_programs_artifacts::*;

/// A program without a test here is a compile error.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}
foreach_trust_program!(assert_test_exists);

/// An engine with epoch interruption, for programs that import the native
/// interface directly (they are run as they are, not composed).
struct Native {
    engine: Engine,
    linker: Linker<AppState>,
}

fn native() -> &'static Native {
    static NATIVE: OnceLock<Native> = OnceLock::new();
    NATIVE.get_or_init(|| {
        let (engine, linker) = epoch_engine();
        Native { engine, linker }
    })
}

fn native_component(path: &str) -> Component {
    Component::from_file(&native().engine, path).expect("compile the program")
}

/// Runs a native-interface program in a new store whose epoch deadline is
/// `ticks` away; stdout goes to `stdout`.
fn run_native(
    component: &Component,
    args: &[&str],
    ctx: NativesockCtx,
    ticks: u64,
    stdout: MemoryOutputPipe,
) -> Output {
    let stderr = MemoryOutputPipe::new(1 << 20);
    let wasi = wasi(args, &stdout, &stderr);
    let rt = native();
    let status = rt
        .linker
        .instantiate_pre(component)
        .and_then(CommandPre::new)
        .and_then(|pre| run_in_store(&rt.engine, &pre, wasi, ctx, ticks));
    Output::new(status, &stdout, &stderr)
}

/// (device, inode, fd flags, file status flags) of a host fd.
fn ident(fd: RawFd) -> (u64, u64, i32, i32) {
    // SAFETY: the caller keeps `fd` open for the test.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let stat = rustix::fs::fstat(fd).expect("fstat");
    (
        stat.st_dev,
        stat.st_ino,
        rustix::io::fcntl_getfd(fd).expect("F_GETFD").bits() as i32,
        rustix::fs::fcntl_getfl(fd).expect("F_GETFL").bits() as i32,
    )
}

#[test]
fn trust_fd_walk() {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1024)
        .min(1 << 20);
    // The host's own fds, and another store's socket.
    let host_file = std::fs::File::open("/proc/self/stat").unwrap();
    let (host_listener, _) = local_listener();
    let theirs = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let theirs_fd = theirs.as_raw_fd();
    let other = NativesockCtx::builder()
        .grant_fd(OwnedFd::from(theirs))
        .build();
    let watched = [
        0,
        1,
        2,
        host_file.as_raw_fd(),
        host_listener.as_raw_fd(),
        theirs_fd,
    ];
    let before: Vec<_> = watched.iter().map(|&fd| ident(fd)).collect();

    let output = run_native(
        &native_component(TRUST_FD_WALK),
        &[&limit.to_string()],
        loopback().build(),
        u64::MAX / 2,
        MemoryOutputPipe::new(1 << 20),
    );
    output.assert_success();
    let summary = output.line("walked ");
    assert_eq!(summary[0], (limit + 7).to_string(), "{summary:?}");
    assert_eq!(summary[summary.len() - 2], "0", "{}", output.stdout);

    let after: Vec<_> = watched.iter().map(|&fd| ident(fd)).collect();
    assert_eq!(
        before, after,
        "the host's fds and the other store's socket are as they were"
    );
    assert!(other.owns_fd(theirs_fd));
    host_listener
        .local_addr()
        .expect("the host's listener is open");
}

#[test]
fn trust_spin() {
    let stdout = MemoryOutputPipe::new(1 << 16);
    let (send, done) = mpsc::channel();
    let pipe = stdout.clone();
    let component = native_component(TRUST_SPIN);
    // One tick: the next epoch increment interrupts the guest.
    let runner = thread::spawn(move || {
        let _ = send.send(run_native(&component, &[], loopback().build(), 1, pipe));
    });
    let start = Instant::now();
    let fd: RawFd = loop {
        let text = String::from_utf8_lossy(&stdout.contents()).into_owned();
        if let Some(fd) = text.strip_prefix("spinning with fd ") {
            break fd.trim().parse().unwrap();
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the guest never started spinning"
        );
        thread::sleep(Duration::from_millis(5));
    };
    thread::sleep(Duration::from_millis(100));
    native().engine.increment_epoch();
    let output = done
        .recv_timeout(DEADLINE)
        .expect("epoch interruption stops the guest");
    runner.join().unwrap();
    let err = output.status.expect_err("the guest traps");
    assert!(
        format!("{err:?}").contains("wasm trap: interrupt"),
        "{err:?}"
    );
    assert!(start.elapsed() < DEADLINE);
    let _ = fd;
}

#[test]
fn trust_sendall_faults() {
    let mut b = loopback();
    // Short writes of 1000 bytes, every third send interrupted.
    let sends = script(&mut b, Call::Send, |n| {
        Some(if n % 3 == 2 {
            Fault::Errno(libc::EINTR)
        } else {
            Fault::ShortWrite(1000)
        })
    });
    let output = run(&component(TRUST_SENDALL_FAULTS), &[], &mut b);
    output.assert_success();
    let sends = sends.load(Ordering::SeqCst);
    // 2 x 256 KiB in pieces of 1000 (263 each), plus the interrupted ones.
    assert!(sends >= 2 * 263 + 2 * 130, "{sends} sends");
}

#[test]
fn trust_eagain_timeout() {
    let mut b = loopback();
    let faults = Arc::new(Mutex::new(vec![0usize; 2]));
    let seen = faults.clone();
    b.inject_faults(move |c| {
        let slot = match c {
            Call::Recv => 0,
            Call::Send => 1,
            _ => return None,
        };
        let mut seen = seen.lock().unwrap();
        seen[slot] += 1;
        (seen[slot] <= 3).then_some(Fault::Errno(libc::EAGAIN))
    });
    run(&component(TRUST_EAGAIN_TIMEOUT), &[], &mut b).assert_success();
    let faults = faults.lock().unwrap();
    assert_eq!(*faults, [4, 4], "three EAGAINs then the call, for each");
}

#[test]
fn trust_enobufs() {
    let mut b = loopback();
    b.inject_faults(|c| match c {
        Call::Send => Some(Fault::Errno(libc::ENOBUFS)),
        Call::Recv => Some(Fault::Errno(libc::ECONNRESET)),
        _ => None,
    });
    run(&component(TRUST_ENOBUFS), &[], &mut b).assert_success();
}

#[test]
fn trust_cancel_recv() {
    let mut b = loopback();
    let handle = b.cancel_handle();
    let program = Running::start(&component(TRUST_CANCEL_RECV), &[], b);
    program.wait_for_line("blocking", 1);
    thread::sleep(Duration::from_millis(200));
    handle.cancel();
    program.finish().assert_success();
    assert!(handle.is_cancelled());
}

#[test]
fn trust_blocking_cap() {
    let mut b = loopback();
    let events = audit_recorder(&mut b);
    b.max_blocking_time(Some(Duration::from_millis(200)));
    run(&component(TRUST_BLOCKING_CAP), &[], &mut b).assert_success();
    let limit = AuditEvent {
        name: LIMIT_EVENT.into(),
        args: vec![
            AuditArg::Scalar(AuditScalar::Str("blocking-ms".into())),
            AuditArg::Scalar(AuditScalar::Int(200)),
        ],
    };
    assert_eq!(
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| **e == limit)
            .count(),
        2
    );
}

#[test]
fn trust_emfile() {
    let mut b = loopback();
    b.max_open_sockets(6);
    let output = run(&component(TRUST_EMFILE), &["6"], &mut b);
    output.assert_success();
}

#[test]
fn trust_denied_audit() {
    let mut b = loopback();
    let events = audit_recorder(&mut b);
    let output = run(&component(TRUST_DENIED_AUDIT), &[], &mut b);
    output.assert_success();
    let fd: i64 = output.line("denied fd ")[0].parse().unwrap();
    let events = events.lock().unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["socket.__new__", "socket.connect", DENIED_EVENT]);
    assert_eq!(
        events[2].args,
        [
            AuditArg::Scalar(AuditScalar::Str("connect".into())),
            AuditArg::Scalar(AuditScalar::Int(fd)),
            AuditArg::Tuple(vec![
                AuditScalar::Str("10.0.0.1".into()),
                AuditScalar::Int(80)
            ]),
        ]
    );
}
