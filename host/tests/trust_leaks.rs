//! No leaks: thousands of stores that open, connect and abandon sockets
//! (returning, trapping, exiting, or trapping after a blocked call was
//! ended by a cancel or the blocking time cap) leave the process with as
//! many open fds as before them.
//!
//! A test binary of its own, its tests serialised: the count is of the
//! whole process.

mod common;

use std::net::TcpListener;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::{epoch_engine, local_listener, open_fds, run_in_store, wasi};
use nativesock::NativesockCtx;
use nativesock::run::AppState;
use wasmtime::Engine;
use wasmtime::component::Component;
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
foreach_trust_leaks_program!(assert_test_exists);

static SERIAL: Mutex<()> = Mutex::new(());

struct Runner {
    engine: Engine,
    pre: CommandPre<AppState>,
}

impl Runner {
    fn new() -> Runner {
        Runner::with(TRUST_LEAKS_STORE)
    }

    fn with(program: &str) -> Runner {
        let (engine, linker) = epoch_engine();
        let component = Component::from_file(&engine, program).unwrap();
        let pre = CommandPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
        Runner { engine, pre }
    }

    /// One store: runs the program with `args`; the store is dropped before
    /// this returns. `Ok(exit code)` or the trap, and what it wrote on stderr.
    fn store(&self, args: &[&str], ctx: NativesockCtx) -> (wasmtime::Result<i32>, String) {
        let stderr = MemoryOutputPipe::new(1 << 12);
        let wasi = wasi(args, &MemoryOutputPipe::new(1 << 12), &stderr);
        let result = run_in_store(&self.engine, &self.pre, wasi, ctx, u64::MAX / 2);
        (
            result,
            String::from_utf8_lossy(&stderr.contents()).into_owned(),
        )
    }
}

fn ctx() -> nativesock::NativesockCtxBuilder {
    let mut b = NativesockCtx::builder();
    b.allow_connect("127.0.0.1".parse().unwrap())
        .allow_bind("127.0.0.1".parse().unwrap());
    b
}

/// Accepts and drops connections until told to stop, so the listener's
/// queue never fills.
fn drain(
    listener: TcpListener,
) -> (
    thread::JoinHandle<()>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    listener.set_nonblocking(true).unwrap();
    let t = thread::spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok(conn) => drop(conn),
                Err(_) => thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    (t, stop)
}

/// Accepts every connection waiting on `listener` (the store that made
/// them has ended, so their bytes and their end are queued) and reads each
/// to its end without waiting: the first byte that is not 7, what the
/// fuzz scripts send, if any.
fn stray_byte(listener: &TcpListener) -> Option<u8> {
    use std::io::Read;
    let mut buf = [0u8; 65536];
    let mut stray = None;
    while let Ok((mut conn, _)) = listener.accept() {
        conn.set_nonblocking(true).unwrap();
        while let Ok(n @ 1..) = conn.read(&mut buf) {
            stray = stray.or(buf[..n].iter().copied().find(|&b| b != 7));
        }
    }
    stray
}

#[test]
fn trust_leaks_store() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let runner = Runner::new();
    let (listener, port) = local_listener();
    let port = port.to_string();
    let (drainer, stop) = drain(listener);

    // Warm up: whatever the runtime keeps open for good opens now.
    for mode in ["abandon", "trap", "exit"] {
        let _ = runner.store(&[&port, mode], ctx().build());
    }
    let mut b = ctx();
    b.max_blocking_time(Some(Duration::from_millis(5)));
    let _ = runner.store(&[&port, "block"], b.build());

    let before = open_fds();
    let start = Instant::now();
    let mut counts = [0usize; 5];
    for i in 0..2000 {
        let (mode, result) = match i % 10 {
            0 => {
                // Blocked in recv until the time cap ends the call, then traps.
                let mut b = ctx();
                b.max_blocking_time(Some(Duration::from_millis(2)));
                ("block-cap", runner.store(&[&port, "block"], b.build()))
            }
            1 if i % 100 == 1 => {
                // Blocked in recv until another thread cancels the store.
                let mut b = ctx();
                let handle = b.cancel_handle();
                let canceller = thread::spawn(move || {
                    thread::sleep(Duration::from_millis(2));
                    handle.cancel();
                });
                let result = runner.store(&[&port, "block"], b.build());
                canceller.join().unwrap();
                ("block-cancel", result)
            }
            1..=3 => ("trap", runner.store(&[&port, "trap"], ctx().build())),
            4 | 5 => ("exit", runner.store(&[&port, "exit"], ctx().build())),
            _ => ("abandon", runner.store(&[&port, "abandon"], ctx().build())),
        };
        let (result, stderr) = result;
        match (mode, &result) {
            ("abandon", Ok(0)) => counts[0] += 1,
            ("trap", Err(_)) => counts[1] += 1,
            ("exit", Ok(1)) => counts[2] += 1,
            // ETIMEDOUT from the cap, EINTR from the cancel, then the trap.
            ("block-cap", Err(_)) if stderr.contains("Err(110)") => counts[3] += 1,
            ("block-cancel", Err(_)) if stderr.contains("Err(4)") => counts[4] += 1,
            _ => panic!("store {i} ({mode}) ended with {result:?}: {stderr}"),
        }
    }
    let elapsed = start.elapsed();
    let after = open_fds();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    drainer.join().unwrap();
    println!(
        "2000 stores in {elapsed:?}: {counts:?} (abandon, trap, exit, block-cap, block-cancel)"
    );
    assert_eq!(after, before, "open fds before and after 2000 stores");
    assert_eq!(counts.iter().sum::<usize>(), 2000);
}

/// The fuzz target over the component boundary: random scripts of native
/// calls with arbitrary arguments, one store each. Every store ends with
/// its exit status or a clean guest trap (a host panic fails the test),
/// leaves no fd open, and nothing outside the grant (a listener on another
/// port) ever sees a connection. `NATIVESOCK_FUZZ_CASES` sets the number of
/// scripts (default 1000).
#[test]
fn trust_leaks_fuzz() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let engine_runner = Runner::with(TRUST_LEAKS_FUZZ);
    let (granted, granted_port) = local_listener();
    let (canary, canary_port) = local_listener();
    canary.set_nonblocking(true).unwrap();
    let canary_port = canary_port.to_string();
    granted.set_nonblocking(true).unwrap();
    let ctx = || {
        let mut b = NativesockCtx::builder();
        b.allow_connect(format!("127.0.0.1:{granted_port}").parse().unwrap())
            .allow_bind("127.0.0.1".parse().unwrap())
            .max_open_sockets(16)
            .max_blocking_time(Some(Duration::from_millis(5)));
        b.build()
    };
    let port = granted_port.to_string();
    let _ = engine_runner.store(&["00", &port, &canary_port], ctx());
    let before = open_fds();
    let cases = std::env::var("NATIVESOCK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(any::<u8>(), 0..800), |script| {
        let hex: String = script.iter().map(|b| format!("{b:02x}")).collect();
        let (result, stderr) = engine_runner.store(&[&hex, &port, &canary_port], ctx());
        match &result {
            Ok(0 | 1) => {}
            Err(e) => prop_assert!(
                format!("{e:?}").contains("wasm trap") && stderr.contains("panicked"),
                "not a clean guest trap: {e:?}\n{stderr}"
            ),
            other => prop_assert!(false, "unexpected end {other:?}"),
        }
        // The granted peer's connections are read, and closed, first.
        let stray = stray_byte(&granted);
        prop_assert!(
            stray.is_none(),
            "the peer read a byte no guest sent: {stray:?}"
        );
        prop_assert_eq!(open_fds(), before, "fds left open by a store");
        prop_assert!(canary.accept().is_err(), "a connection outside the grant");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
