//! What the end-to-end tests share: running a test program, composed with the
//! semantics component, in a fresh store, and watching it from outside; the
//! store set-up for programs run as they are in stores with an epoch
//! deadline (`trust`, `trust_leaks`); and the host-side listeners, audit
//! records and fd counts the tests check against.

#![allow(dead_code, reason = "each test binary uses part of it")]

use std::net::TcpListener;
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nativesock::compose::compose_with_semantics;
use nativesock::run::{AppState, engine, linker, run_command};
use nativesock::{AuditEvent, Call, Fault, NativesockCtx, NativesockCtxBuilder};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// The longest any one program may take; every wait in the tests is bounded.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How much output a program may write.
const CAPACITY: usize = 1 << 20;

struct Runtime {
    engine: Engine,
    linker: Linker<AppState>,
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let engine = engine().expect("engine");
        let linker = linker(&engine).expect("linker");
        Runtime { engine, linker }
    })
}

/// Compiles the program at `path` composed with the semantics component.
pub fn component(path: &str) -> Component {
    let app = std::fs::read(path).unwrap_or_else(|e| panic!("failed to read `{path}`: {e}"));
    component_from(&app)
}

/// Compiles the application component `app` composed with the semantics component.
pub fn component_from(app: &[u8]) -> Component {
    let composed = compose_with_semantics(app).expect("compose with the semantics component");
    Component::new(&runtime().engine, composed).expect("compile the composed component")
}

/// A context that grants what the programs use: connect and bind on loopback.
pub fn loopback() -> NativesockCtxBuilder {
    let mut builder = NativesockCtxBuilder::new();
    builder
        .allow_connect("127.0.0.0/8".parse().unwrap())
        .allow_bind("127.0.0.0/8".parse().unwrap());
    builder
}

/// An audit hook on `builder` that records every event, and the record.
pub fn audit_recorder(builder: &mut NativesockCtxBuilder) -> Arc<Mutex<Vec<AuditEvent>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    builder.audit_hook(move |e| {
        seen.lock().unwrap().push(e.clone());
        Ok(())
    });
    events
}

/// A fault injector that answers `call` from `faults`, one per call, and
/// counts the calls.
pub fn script(
    b: &mut NativesockCtxBuilder,
    call: Call,
    faults: impl Fn(usize) -> Option<Fault> + Send + Sync + 'static,
) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let count = calls.clone();
    b.inject_faults(move |c| {
        if c != call {
            return None;
        }
        faults(count.fetch_add(1, Ordering::SeqCst))
    });
    calls
}

/// A host socket listening on `127.0.0.1`, on a port the kernel picked,
/// and that port.
pub fn local_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a host listener");
    let port = listener
        .local_addr()
        .expect("the listener's address")
        .port();
    (listener, port)
}

/// How many fds the process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// An engine with epoch interruption and a linker for it, for programs run
/// as they are (not composed) in stores with an epoch deadline.
pub fn epoch_engine() -> (Engine, Linker<AppState>) {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config).expect("engine");
    let linker = nativesock::run::linker(&engine).expect("linker");
    (engine, linker)
}

/// A WASI context for a program run with `args` (after its name), writing
/// to `stdout` and `stderr`.
pub fn wasi(args: &[&str], stdout: &MemoryOutputPipe, stderr: &MemoryOutputPipe) -> WasiCtx {
    wasi_builder(args, stdout, stderr).build()
}

/// The builder of [`wasi`]'s context, to add to.
pub fn wasi_builder(
    args: &[&str],
    stdout: &MemoryOutputPipe,
    stderr: &MemoryOutputPipe,
) -> WasiCtxBuilder {
    let mut argv = vec!["program"];
    argv.extend_from_slice(args);
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(&argv)
        .stdout(stdout.clone())
        .stderr(stderr.clone());
    builder
}

/// Runs the command `pre` in a new store of `engine` (an [`epoch_engine`])
/// holding `wasi` and `ctx`, whose epoch deadline is `ticks` away. The store
/// is dropped before this returns. The exit status, as
/// [`run_command`]'s, or the trap.
pub fn run_in_store(
    engine: &Engine,
    pre: &CommandPre<AppState>,
    wasi: WasiCtx,
    ctx: NativesockCtx,
    ticks: u64,
) -> wasmtime::Result<i32> {
    let mut store = Store::new(engine, AppState::new(wasi, ctx));
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_trap();
    let result = pre
        .instantiate(&mut store)
        .and_then(|command| command.wasi_cli_run().call_run(&mut store));
    drop(store);
    match result {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(e),
        },
    }
}

/// What a program did.
pub struct Output {
    /// Its exit status, or the trap that ended it.
    pub status: wasmtime::Result<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl Output {
    /// The output of a program that ended with `status`, writing to
    /// `stdout` and `stderr`.
    pub fn new(
        status: wasmtime::Result<i32>,
        stdout: &MemoryOutputPipe,
        stderr: &MemoryOutputPipe,
    ) -> Output {
        let text = |pipe: &MemoryOutputPipe| String::from_utf8_lossy(&pipe.contents()).into_owned();
        Output {
            status,
            stdout: text(stdout),
            stderr: text(stderr),
        }
    }

    /// Panics, showing the program's output, unless it exited with `code`.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) {
        match &self.status {
            Ok(status) if *status == code => {}
            status => panic!(
                "expected exit status {code}, got {status:?}\n--- stdout\n{}--- stderr\n{}",
                self.stdout, self.stderr
            ),
        }
    }

    /// Panics, showing the program's output, unless it exited with 0.
    #[track_caller]
    pub fn assert_success(&self) {
        self.assert_exit(0);
    }

    /// The words after `prefix` on the first stdout line that starts with it.
    #[track_caller]
    pub fn line(&self, prefix: &str) -> Vec<String> {
        find_line(&self.stdout, prefix)
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{}", self.stdout))
    }
}

fn find_line(text: &str, prefix: &str) -> Option<Vec<String>> {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .map(|rest| rest.split_whitespace().map(String::from).collect())
}

/// Runs `component` with `args` in a fresh store on this thread.
pub fn run(component: &Component, args: &[&str], ctx: &mut NativesockCtxBuilder) -> Output {
    run_to(component, args, ctx, MemoryOutputPipe::new(CAPACITY))
}

/// As [`run`], writing stdout to `stdout`, which the caller may watch.
pub fn run_to(
    component: &Component,
    args: &[&str],
    ctx: &mut NativesockCtxBuilder,
    stdout: MemoryOutputPipe,
) -> Output {
    let rt = runtime();
    run_with(&rt.engine, &rt.linker, component, args, ctx, stdout)
}

/// As [`run_to`], in a store of `engine` (for a test with an engine of
/// its own, such as a pooling one).
pub fn run_with(
    engine: &Engine,
    linker: &Linker<AppState>,
    component: &Component,
    args: &[&str],
    ctx: &mut NativesockCtxBuilder,
    stdout: MemoryOutputPipe,
) -> Output {
    let stderr = MemoryOutputPipe::new(CAPACITY);
    // `wasi:sockets` with the same grants, as the CLI runs programs.
    let mut wasi = wasi_builder(args, &stdout, &stderr);
    ctx.configure_wasi_sockets(&mut wasi);
    let state = AppState {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        nativesock: ctx.build(),
    };
    let status = run_command(engine, linker, component, state);
    Output::new(status, &stdout, &stderr)
}

/// A program running in its own store on its own thread.
pub struct Running {
    stdout: MemoryOutputPipe,
    done: mpsc::Receiver<Output>,
    thread: thread::JoinHandle<()>,
}

impl Running {
    /// Starts `component` with `args` on a new thread.
    pub fn start(component: &Component, args: &[&str], mut ctx: NativesockCtxBuilder) -> Running {
        let stdout = MemoryOutputPipe::new(CAPACITY);
        let (send, done) = mpsc::channel();
        let (component, pipe) = (component.clone(), stdout.clone());
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let thread = thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = send.send(run_to(&component, &args, &mut ctx, pipe));
        });
        Running {
            stdout,
            done,
            thread,
        }
    }

    /// Waits until stdout has `count` lines starting with `prefix`, and
    /// returns the words after the prefix on the last of them.
    #[track_caller]
    pub fn wait_for_line(&self, prefix: &str, count: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let stdout = String::from_utf8_lossy(&self.stdout.contents()).into_owned();
            let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with(prefix)).collect();
            if lines.len() >= count {
                return find_line(lines[count - 1], prefix).unwrap_or_default();
            }
            assert!(
                start.elapsed() < DEADLINE,
                "no line {count} starting with {prefix:?} after {DEADLINE:?}; stdout:\n{stdout}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal` to the program's thread.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: the thread is alive until `finish` joins it, and its
        // pthread_t stays valid until then.
        let rc = unsafe { libc::pthread_kill(self.thread.as_pthread_t(), signal) };
        assert_eq!(rc, 0, "pthread_kill");
    }

    /// Waits for the program to end, [`DEADLINE`] at most.
    #[track_caller]
    pub fn finish(self) -> Output {
        let output = self.done.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            panic!(
                "the program did not end within {DEADLINE:?}; stdout:\n{}",
                String::from_utf8_lossy(&self.stdout.contents())
            )
        });
        self.thread.join().expect("the program's thread");
        output
    }
}

/// Signals that arrived since the last [`take_signals`]. The `SIGUSR1`
/// handler only counts; the embedder's signal check, as CPython's
/// `PyErr_CheckSignals`, runs the "Python-level" handler later.
static PENDING: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    PENDING.fetch_add(1, Ordering::SeqCst);
}

/// Installs the `SIGUSR1` handler, without `SA_RESTART` so that a syscall
/// it interrupts fails with `EINTR` as under CPython, and returns a guard
/// that keeps the other signal tests out: they share the pending count.
pub fn signals() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    static INSTALL: Once = Once::new();
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is valid; the handler only touches an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = 0;
            libc::sigemptyset(&mut action.sa_mask);
            let rc = libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
            assert_eq!(rc, 0, "sigaction(SIGUSR1)");
        }
    });
    PENDING.store(0, Ordering::SeqCst);
    guard
}

/// How many signals arrived since the last call.
pub fn take_signals() -> usize {
    PENDING.swap(0, Ordering::SeqCst)
}
