//! nativesock in an async host: stores on a 2-worker tokio runtime, linked
//! with `nativesock::add_to_linker_async` beside wasmtime-wasi's async
//! bindings, run with wasmtime's `*_async` calls. A guest call that would
//! block awaits on the runtime, so many more stores than workers can be
//! blocked at once; the programs that check CPython's behaviour in blocking
//! stores (`e2e.rs`, `trust.rs`) pass here unchanged.

mod common;

use std::net::UdpSocket;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{DEADLINE, audit_recorder, loopback};
use nativesock::compose::compose_with_semantics;
use nativesock::run::{AppState, linker_async, run_command_async};
use nativesock::{AuditArg, AuditEvent, AuditScalar, Call, LIMIT_EVENT, NativesockCtxBuilder};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use nativesock_test_programs_artifacts::*;

/// A program without a test here is a compile error.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}
foreach_async_program!(assert_test_exists);

struct Host {
    engine: Engine,
    linker: Linker<AppState>,
}

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let engine = nativesock::run::engine().expect("engine");
        let linker = linker_async(&engine).expect("async linker");
        Host { engine, linker }
    })
}

fn component(path: &str) -> Component {
    let app = std::fs::read(path).unwrap_or_else(|e| panic!("failed to read `{path}`: {e}"));
    let composed = compose_with_semantics(&app).expect("compose with the semantics component");
    Component::new(&host().engine, composed).expect("compile the composed component")
}

/// The runtime of the tests: two workers, as a small host has.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// What a program run printed, and how it ended.
struct Ran {
    code: i32,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Ran {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents()).into_owned()
    }

    fn assert_success(&self) {
        assert_eq!(
            self.code,
            0,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout(),
            String::from_utf8_lossy(&self.stderr.contents())
        );
    }
}

/// Runs `component` with `args` in a new async store holding `ctx`.
async fn run(component: &Component, args: &[&str], ctx: &mut NativesockCtxBuilder) -> Ran {
    let stdout = MemoryOutputPipe::new(1 << 16);
    let stderr = MemoryOutputPipe::new(1 << 16);
    let run = started(component, args, ctx.build(), &stdout, &stderr);
    let code = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the program ends in time")
        .unwrap_or_else(|e| {
            let stderr = String::from_utf8_lossy(&stderr.contents()).into_owned();
            panic!("the program failed: {e:?}\nstderr:\n{stderr}")
        });
    Ran {
        code,
        stdout,
        stderr,
    }
}

fn started(
    component: &Component,
    args: &[&str],
    ctx: nativesock::NativesockCtx,
    stdout: &MemoryOutputPipe,
    stderr: &MemoryOutputPipe,
) -> impl Future<Output = wasmtime::Result<i32>> + Send + 'static {
    let mut argv = vec!["program"];
    argv.extend_from_slice(args);
    let wasi = WasiCtxBuilder::new()
        .args(&argv)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .build();
    let component = component.clone();
    async move {
        let host = host();
        run_command_async(
            &host.engine,
            &host.linker,
            &component,
            AppState::new(wasi, ctx),
        )
        .await
    }
}

/// The programs that check CPython's blocking and non-blocking `connect`
/// and fd passing themselves, all at once on the two workers.
#[test]
fn blocking_programs_pass_in_async_stores() {
    let programs = [
        CONNECT_BLOCKING,
        CONNECT_REFUSED,
        CONNECT_NONBLOCKING,
        CONNECT_TIMEOUT,
        SCM_RIGHTS_PASSING,
        TRUST_EAGAIN_TIMEOUT,
    ];
    let components: Vec<Component> = programs.iter().map(|p| component(p)).collect();
    runtime().block_on(async {
        let mut tasks = Vec::new();
        for c in components {
            tasks.push(tokio::spawn(
                async move { run(&c, &[], &mut loopback()).await },
            ));
        }
        for task in tasks {
            task.await.expect("the task").assert_success();
        }
    });
}

#[test]
fn the_blocking_cap_holds_in_async_stores() {
    let mut b = loopback();
    let events = audit_recorder(&mut b);
    b.max_blocking_time(Some(Duration::from_millis(200)));
    let c = component(TRUST_BLOCKING_CAP);
    runtime().block_on(run(&c, &[], &mut b)).assert_success();
    let limit = AuditEvent {
        name: LIMIT_EVENT.into(),
        args: vec![
            AuditArg::Scalar(AuditScalar::Str("blocking-ms".into())),
            AuditArg::Scalar(AuditScalar::Int(200)),
        ],
    };
    let events = events.lock().unwrap();
    assert_eq!(events.iter().filter(|e| **e == limit).count(), 2);
}

#[test]
fn a_cancel_handle_wakes_an_async_store() {
    let mut b = loopback();
    let handle = b.cancel_handle();
    let c = component(TRUST_CANCEL_RECV);
    let ran = runtime().block_on(async {
        let stdout = MemoryOutputPipe::new(1 << 16);
        let stderr = MemoryOutputPipe::new(1 << 16);
        let task = tokio::spawn(started(&c, &[], b.build(), &stdout, &stderr));
        let start = Instant::now();
        while !String::from_utf8_lossy(&stdout.contents()).contains("blocking") {
            assert!(start.elapsed() < DEADLINE, "the program blocks in time");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!task.is_finished(), "still blocked in recv");
        handle.cancel();
        let code = tokio::time::timeout(DEADLINE, task)
            .await
            .expect("the cancel wakes it")
            .expect("the task")
            .expect("the program runs");
        Ran {
            code,
            stdout,
            stderr,
        }
    });
    ran.assert_success();
}

/// The process's resident memory, in bytes.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * rustix::param::page_size()
}

/// Many stores (10,000 unless `NATIVESOCK_ASYNC_STORES` says otherwise),
/// each blocked in a guest's blocking `recv()` on a UDP socket granted to
/// it, on a runtime of two workers: all of them are inside `recv` at once,
/// none returns before its peer writes, and each returns what its peer
/// wrote. Prints the time and memory per store (`BENCHMARKS.md`).
#[test]
fn async_blocked_recv() {
    let n: usize = std::env::var("NATIVESOCK_ASYNC_STORES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // One engine with wasmtime's pooling allocator for all of them, as a
    // host with this many stores has: a store's memories, tables and
    // fiber stack are slots in a few large mappings made up front. Every
    // slot in use still splits them (an accessible part, an inaccessible
    // rest, a stack's guard page), and the process may have at most
    // `vm.max_map_count` (65,530 by default) mappings: without
    // copy-on-write memory images, whose file mappings split a memory
    // three ways more, a store costs 6.
    let mut pool = nativesock::run::pooling_config(u32::try_from(n).unwrap(), 64 << 20);
    // A store's slots are given back to the kernel when it ends (rather
    // than kept resident and cleared, which pays off when stores come and
    // go, not when 10,000 end at once).
    pool.total_stacks(u32::try_from(n).unwrap())
        .linear_memory_keep_resident(0)
        .table_keep_resident(0);
    let mut config = wasmtime::Config::new();
    config
        .memory_init_cow(false)
        .memory_reservation(64 << 20)
        .memory_guard_size(64 << 10)
        .memory_reservation_for_growth(0)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config).expect("a pooling engine");
    let linker = Arc::new(linker_async(&engine).expect("async linker"));
    let app = std::fs::read(ASYNC_BLOCKED_RECV).expect("the program");
    let composed = compose_with_semantics(&app).expect("compose");
    let c = Component::new(&engine, composed).expect("compile");
    let rt = runtime();
    let sender = UdpSocket::bind("127.0.0.1:0").expect("the peers' socket");
    let mut ports = Vec::with_capacity(n);
    let entered = Arc::new(AtomicUsize::new(0));
    let rss_before = resident();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    let mut outputs = Vec::with_capacity(n);
    for _ in 0..n {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("a store's socket");
        ports.push(sock.local_addr().expect("its address").port());
        let mut b = NativesockCtxBuilder::new();
        let count = entered.clone();
        // Counts the stores that reached `recv` (the host's hook runs just
        // before the system call).
        b.inject_faults(move |call| {
            if call == Call::Recv {
                count.fetch_add(1, Ordering::SeqCst);
            }
            None
        });
        let mut ctx = b.build();
        let fd = ctx.grant_fd(OwnedFd::from(sock));
        let stdout = MemoryOutputPipe::new(256);
        let stderr = MemoryOutputPipe::new(4096);
        let fd = fd.to_string();
        let wasi = WasiCtxBuilder::new()
            .args(&["program", &fd])
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let (engine, linker, c) = (engine.clone(), linker.clone(), c.clone());
        tasks.push(rt.spawn(async move {
            run_command_async(&engine, &linker, &c, AppState::new(wasi, ctx)).await
        }));
        outputs.push((stdout, stderr));
    }
    while entered.load(Ordering::SeqCst) < n {
        if let Some(i) = tasks.iter().position(tokio::task::JoinHandle::is_finished) {
            let task = tasks.swap_remove(i);
            let ended = rt.block_on(task).expect("the task");
            panic!(
                "a store ended before its peer wrote: {ended:?}\n{}",
                String::from_utf8_lossy(&outputs[i].1.contents())
            );
        }
        assert!(
            start.elapsed() < DEADLINE * 4,
            "only {} of {n} stores reached recv",
            entered.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let blocked_in = start.elapsed();
    let rss_blocked = resident();
    std::thread::sleep(Duration::from_millis(100));
    let finished = tasks.iter().filter(|t| t.is_finished()).count();
    assert_eq!(finished, 0, "no store returns before its peer writes");
    let wake = Instant::now();
    for (i, port) in ports.iter().enumerate() {
        sender
            .send_to(format!("hello {i}").as_bytes(), ("127.0.0.1", *port))
            .expect("send to a store");
    }
    // Woken: every store printed what its `recv` returned.
    let mut waiting: Vec<usize> = (0..n).collect();
    while !waiting.is_empty() {
        waiting.retain(|&i| outputs[i].0.contents().is_empty());
        assert!(
            wake.elapsed() < DEADLINE * 4,
            "{} stores never woke",
            waiting.len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let woken_in = wake.elapsed();
    rt.block_on(async {
        for (i, task) in tasks.into_iter().enumerate() {
            let code = tokio::time::timeout(DEADLINE, task)
                .await
                .expect("each store wakes in time")
                .expect("the task")
                .expect("the program runs");
            let (stdout, stderr) = &outputs[i];
            assert_eq!(
                (code, String::from_utf8_lossy(&stdout.contents()).trim()),
                (0, format!("hello {i}").as_str()),
                "store {i}: {}",
                String::from_utf8_lossy(&stderr.contents())
            );
        }
    });
    let finished_in = wake.elapsed();
    #[expect(clippy::cast_precision_loss, reason = "a figure to print")]
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{n} async stores blocked in recv on 2 workers: {:.1} us per store to start and block, \
         {:.1} us per store until all woke, {:.1} us per store until all ended, \
         {} KiB resident per blocked store",
        per(blocked_in),
        per(woken_in),
        per(finished_in),
        rss_blocked.saturating_sub(rss_before) / n / 1024
    );
}
