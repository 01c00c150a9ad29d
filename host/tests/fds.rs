//! Dropping a store closes every fd it still owns, however the program
//! ended. Each test runs the `fds_*` program of the same name, which leaks
//! sockets (a listener, both ends of a connection, a dup and a detached fd),
//! and counts the process's open fds before and after.
//!
//! A test binary of its own, with its tests run one at a time: the count is
//! of the whole process.

mod common;

use std::sync::{Mutex, MutexGuard};

use common::*;

use nativesock_test_programs_artifacts::*;

/// A program without a test here is a compile error.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}
foreach_fds_program!(assert_test_exists);

/// The tests count the whole process's fds: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `path` twice, the first time to let the runtime open what it keeps
/// (its thread pools' fds), and checks that the second run leaves the
/// process with as many open fds as before it.
fn assert_closes_everything(path: &str, check: fn(&Output)) {
    let _serial = serial();
    let component = component(path);
    check(&run(&component, &[], &mut loopback()));

    let before = open_fds();
    let output = run(&component, &[], &mut loopback());
    let after = settled_fds(before);
    check(&output);
    let leaked = output.line("leaked fds ");
    assert_eq!(leaked.len(), 5, "the program leaked five fds: {leaked:?}");
    assert_eq!(
        after, before,
        "open fds before and after the store; the program leaked {leaked:?}"
    );
}

/// The process's open fds once they are back to `expected`, or after 2 s:
/// wasmtime's compilation cache has a worker thread of its own that opens
/// its files now and then (a CI run caught one), while an fd a store
/// leaked stays open.
fn settled_fds(expected: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let n = open_fds();
        if n == expected || std::time::Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn fds_closed_on_drop() {
    assert_closes_everything(FDS_CLOSED_ON_DROP, Output::assert_success);
}

#[test]
fn fds_closed_on_exit() {
    assert_closes_everything(FDS_CLOSED_ON_EXIT, |output| output.assert_exit(1));
}

#[test]
fn fds_closed_on_trap() {
    assert_closes_everything(FDS_CLOSED_ON_TRAP, |output| {
        let err = output.status.as_ref().expect_err("the program traps");
        assert!(
            output.stderr.contains("trapping on purpose"),
            "{err:?}\n--- stderr\n{}",
            output.stderr
        );
    });
}

/// With the pooling allocator as `nativesock::run::pooling_config` sets it
/// up, stores reuse warm slots (memories kept resident and reset page by
/// page): every store still starts clean and still closes what it leaked.
#[test]
fn fds_closed_in_warm_pooling_slots() {
    let _serial = serial();
    // Two stores' worth of slots, so that the runs below reuse them.
    let pooled = Pooled::new(2);
    let run_once = || pooled.run().line("leaked fds ");
    let first = run_once();
    let before = open_fds();
    for _ in 0..20 {
        // The same fds, so each store started from the program's initial
        // state and the last one's sockets were closed.
        assert_eq!(run_once(), first);
    }
    assert_eq!(
        settled_fds(before),
        before,
        "open fds before and after 20 pooled stores"
    );
}

/// A warm pooling slot keeps resident only what its last store touched, not
/// `nativesock::run::POOL_KEEP_RESIDENT` of every memory: the reset's
/// dirty-page scan must skip pages that were never touched. wasmtime 50.0.1
/// counted them as dirty (2.3 MiB resident per composed app); the workspace
/// carries wasmtime 51's fix (`patches/wasmtime-pagemap-scan-present.patch`).
#[test]
fn warm_pooling_slots_keep_resident_only_what_was_touched() {
    use nativesock::run::POOL_KEEP_RESIDENT;
    use wasmtime::PoolingAllocationConfig;

    if !PoolingAllocationConfig::is_pagemap_scan_available() {
        eprintln!("skipped: this kernel has no PAGEMAP_SCAN (Linux 6.7+)");
        return;
    }
    let _serial = serial();
    let pooled = Pooled::new(1);
    let metrics = pooled
        .engine
        .pooling_allocator_metrics()
        .expect("a pooling engine");
    for _ in 0..3 {
        pooled.run();
        // Both memories (the app's and the semantics component's) are warm
        // and reset; each is larger than 1 MiB (a 1 MiB Rust stack, then
        // data and heap), of which the program touches a few dozen pages.
        assert_eq!(metrics.unused_warm_memories(), 2);
        let resident = metrics.unused_memory_bytes_resident();
        assert!(
            resident > 0 && resident < POOL_KEEP_RESIDENT / 4,
            "{resident} bytes kept resident by two warm memories"
        );
    }
}

/// `FDS_CLOSED_ON_DROP` composed and compiled for an engine with
/// `nativesock::run::pooling_config(slots, 64 MiB)`.
struct Pooled {
    engine: wasmtime::Engine,
    linker: wasmtime::component::Linker<nativesock::run::AppState>,
    component: wasmtime::component::Component,
}

impl Pooled {
    fn new(slots: u32) -> Self {
        use wasmtime::{Config, Engine, InstanceAllocationStrategy};
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(
            nativesock::run::pooling_config(slots, 64 << 20),
        ));
        let engine = Engine::new(&config).expect("engine");
        let linker = nativesock::run::linker(&engine).expect("linker");
        let app = std::fs::read(FDS_CLOSED_ON_DROP).expect("read the program");
        let composed = nativesock::compose::compose_with_semantics(&app).expect("compose");
        let component = wasmtime::component::Component::new(&engine, composed).expect("compile");
        Pooled {
            engine,
            linker,
            component,
        }
    }

    /// One store in the pool, run to a successful exit.
    fn run(&self) -> Output {
        let output = run_with(
            &self.engine,
            &self.linker,
            &self.component,
            &[],
            &mut loopback(),
            wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(1 << 16),
        );
        output.assert_success();
        output
    }
}
