//! A call from one component to another that lends it an owned resource
//! handle (an app calling a method of its socket on the semantics
//! component) allocates nothing in the host: wasmtime keeps the handles a
//! call lends inline (`patches/wasmtime-call-context-inline-lenders.patch`,
//! `vendor/wasmtime`). Without the change, every such call allocated and
//! freed a vector, about 40 ns of a 480 ns `getsockname` (BENCHMARKS.md).
//!
//! Its own test binary: the counting allocator sees every thread of the
//! process, so no other test may run beside it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

/// The system allocator, counting allocations.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator as it is.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A callee that defines resource `r` with a method `get`, and a caller
/// that owns one `r` and calls `get` on it `n` times (`run(n)`), each call
/// lending its owned handle.
const COMPOSITION: &str = r#"
(component
  (component $callee
    (type $r (resource (rep i32)))
    (core func $new (canon resource.new $r))
    (core module $m
      (import "" "new" (func $new (param i32) (result i32)))
      (func (export "make") (result i32) (call $new (i32.const 7)))
      (func (export "get") (param i32) (result i32) (local.get 0)))
    (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
    (export $r' "r" (type $r))
    (func $make (result (own $r')) (canon lift (core func $i "make")))
    (func $get (param "self" (borrow $r')) (result u32) (canon lift (core func $i "get")))
    (export "make" (func $make))
    (export "[method]r.get" (func $get)))
  (component $caller
    (import "callee" (instance $c
      (export "r" (type $r (sub resource)))
      (export "make" (func (result (own $r))))
      (export "[method]r.get" (func (param "self" (borrow $r)) (result u32)))))
    (core func $make (canon lower (func $c "make")))
    (core func $get (canon lower (func $c "[method]r.get")))
    (core module $m
      (import "" "make" (func $make (result i32)))
      (import "" "get" (func $get (param i32) (result i32)))
      (global $h (mut i32) (i32.const 0))
      (func (export "run") (param $n i32) (result i32)
        (local $sum i32)
        (if (i32.eqz (global.get $h)) (then (global.set $h (call $make))))
        (block $done
          (loop $next
            (br_if $done (i32.eqz (local.get $n)))
            (local.set $sum (i32.add (local.get $sum) (call $get (global.get $h))))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $next)))
        (local.get $sum)))
    (core instance $i (instantiate $m
      (with "" (instance (export "make" (func $make)) (export "get" (func $get))))))
    (func (export "run") (param "n" u32) (result u32) (canon lift (core func $i "run"))))
  (instance $callee (instantiate $callee))
  (instance $caller (instantiate $caller (with "callee" (instance $callee))))
  (export "run" (func $caller "run")))
"#;

#[test]
fn lending_a_handle_allocates_nothing_per_call() {
    let engine = Engine::default();
    let component = Component::new(&engine, wat::parse_str(COMPOSITION).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &component)
        .unwrap();
    let run = instance
        .get_typed_func::<(u32,), (u32,)>(&mut store, "run")
        .unwrap();
    // What the host's own call costs, once warm (the handle is made then).
    let mut allocations = |n: u32| {
        let before = ALLOCATIONS.load(Relaxed);
        let (sum,) = run.call(&mut store, (n,)).unwrap();
        let counted = ALLOCATIONS.load(Relaxed) - before;
        // Every call reached the callee and returned its representation.
        assert_eq!(sum, 7 * n);
        counted
    };
    allocations(1);
    let few = allocations(1);
    let many = allocations(10_000);
    assert_eq!(
        many, few,
        "10,000 calls allocated {many} times, one call {few} times: the calls allocate"
    );
}
