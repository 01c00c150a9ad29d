//! The fused adapters between two components copy lists of integers and
//! floats with one `memory.copy` (the carried change to wasmtime-environ,
//! `patches/wasmtime-environ-list-memory-copy.patch`), and every list still
//! crosses exactly as the component model says: integers and floats bit for
//! bit (NaN payloads too), `bool` normalized to 0 or 1, `char` validated,
//! and pointers checked against memory bounds and alignment.
//!
//! Each test composes two components by hand: a caller that forwards the
//! host's list to a callee, which echoes it back, so every list crosses one
//! adapter on the way in and one on the way out.

use std::sync::Mutex;

use wasmtime::component::{Component, ComponentNamedList, Lift, Linker, Lower};
use wasmtime::{Config, Engine, Store};

/// The element types whose lists an adapter may copy in bulk.
const BULK: [&str; 10] = [
    "u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64",
];

/// A bump allocator over the module's memory, starting again at 1 KiB when
/// 8 MiB are used up (each test call needs only its own lists alive).
const LIBC: &str = r#"
    (memory (export "memory") 129)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p
        (i32.and
          (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get 2))))
      (if (i32.gt_u (i32.add (local.get $p) (local.get 3)) (i32.const 0x800000))
        (then (local.set $p (i32.const 1024))))
      (global.set $next (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
"#;

/// The composition: `roundtrip-T` for every bulk type, `bool-via-u8`
/// (the host's bytes cross to the callee as `list<bool>`), `char-via-u32`
/// (the host's numbers cross as `list<char>`), and `raw-u8`/`raw-u32`,
/// which hand the callee a pointer and length of the host's choosing.
fn composition() -> String {
    // (export name, callee's type, caller's type)
    let mut funcs: Vec<(String, String, String)> = BULK
        .iter()
        .map(|t| (format!("roundtrip-{t}"), t.to_string(), t.to_string()))
        .collect();
    funcs.push(("bool-via-u8".into(), "bool".into(), "u8".into()));
    funcs.push(("char-via-u32".into(), "char".into(), "u32".into()));

    let mut callee_lifts = String::new();
    let mut caller_imports = String::new();
    let mut caller_lowers = String::new();
    let mut core_imports = String::new();
    let mut core_funcs = String::new();
    let mut host_instance = String::new();
    let mut caller_lifts = String::new();
    let mut outer_with = String::new();
    let mut outer_exports = String::new();
    for (i, (name, inner, outer)) in funcs.iter().enumerate() {
        callee_lifts.push_str(&format!(
            r#"(func (export "echo-{i}") (param "x" (list {inner})) (result (list {inner}))
                 (canon lift (core func $i "echo") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
            "#
        ));
        caller_imports.push_str(&format!(
            r#"(import "echo-{i}" (func $echo-{i} (param "x" (list {inner})) (result (list {inner}))))
            "#
        ));
        caller_lowers.push_str(&format!(
            r#"(core func $lowered-{i} (canon lower (func $echo-{i}) (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
            "#
        ));
        core_imports.push_str(&format!(
            r#"(import "host" "echo-{i}" (func $echo-{i} (param i32 i32 i32)))
            "#
        ));
        core_funcs.push_str(&format!(
            r#"(func (export "{name}") (param i32 i32) (result i32)
                 (call $echo-{i} (local.get 0) (local.get 1) (i32.const 16))
                 (i32.const 16))
            "#
        ));
        host_instance.push_str(&format!(r#"(export "echo-{i}" (func $lowered-{i}))"#));
        caller_lifts.push_str(&format!(
            r#"(func (export "{name}") (param "x" (list {outer})) (result (list {outer}))
                 (canon lift (core func $m "{name}") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
            "#
        ));
        outer_with.push_str(&format!(r#"(with "echo-{i}" (func $callee "echo-{i}"))"#));
        outer_exports.push_str(&format!(
            r#"(export "{name}" (func $caller "{name}"))
            "#
        ));
    }
    // `raw-u8` and `raw-u32` pass the callee a pointer and length from the
    // host's two numbers, through the adapters of `roundtrip-u8` (0) and
    // `roundtrip-u32` (4).
    core_funcs.push_str(
        r#"(func (export "raw-u8") (param i32 i32) (result i32)
             (call $echo-0 (local.get 0) (local.get 1) (i32.const 16))
             (i32.const 16))
           (func (export "raw-u32") (param i32 i32) (result i32)
             (call $echo-4 (local.get 0) (local.get 1) (i32.const 16))
             (i32.const 16))
        "#,
    );
    for (name, ty) in [("raw-u8", "u8"), ("raw-u32", "u32")] {
        caller_lifts.push_str(&format!(
            r#"(func (export "{name}") (param "ptr" u32) (param "len" u32) (result (list {ty}))
                 (canon lift (core func $m "{name}") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
            "#
        ));
        outer_exports.push_str(&format!(
            r#"(export "{name}" (func $caller "{name}"))
            "#
        ));
    }
    format!(
        r#"(component
          (component $callee
            (core module $m
              {LIBC}
              (func (export "echo") (param i32 i32) (result i32)
                (i32.store (i32.const 0) (local.get 0))
                (i32.store (i32.const 4) (local.get 1))
                (i32.const 0)))
            (core instance $i (instantiate $m))
            {callee_lifts})
          (component $caller
            {caller_imports}
            (core module $libc {LIBC})
            (core instance $libc (instantiate $libc))
            {caller_lowers}
            (core module $m
              (import "libc" "memory" (memory 1))
              {core_imports}
              {core_funcs})
            (core instance $m (instantiate $m
              (with "libc" (instance $libc))
              (with "host" (instance {host_instance}))))
            {caller_lifts})
          (instance $callee (instantiate $callee))
          (instance $caller (instantiate $caller {outer_with}))
          {outer_exports})"#
    )
}

/// The adapter modules wasmtime-environ generated, as it logs them (at
/// trace level, printed) while compiling a component.
static ADAPTERS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// One compilation at a time, so that [`ADAPTERS`] holds only its modules.
static COMPILING: Mutex<()> = Mutex::new(());

struct AdapterLog;

impl log::Log for AdapterLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata
            .target()
            .starts_with("wasmtime_environ::component::translate")
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let text = record.args().to_string();
            if let Some(module) = text.strip_prefix("generated adapter module:\n") {
                ADAPTERS.lock().unwrap().push(module.to_string());
            }
        }
    }

    fn flush(&self) {}
}

static LOGGER: AdapterLog = AdapterLog;

/// The composed component, its instance in a fresh store, and the adapter
/// modules its compilation generated.
struct Composed {
    store: Store<()>,
    instance: wasmtime::component::Instance,
    adapters: Vec<String>,
}

fn composed() -> Composed {
    // Set once per process; later calls find it set.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
    let mut config = Config::new();
    // No compilation cache: the adapters are generated by this build.
    config.cache(None);
    let engine = Engine::new(&config).unwrap();
    let wasm = wat::parse_str(composition()).unwrap();
    let (component, adapters) = {
        let _compiling = COMPILING.lock().unwrap_or_else(|e| e.into_inner());
        ADAPTERS.lock().unwrap().clear();
        let component = Component::new(&engine, &wasm).unwrap();
        (component, std::mem::take(&mut *ADAPTERS.lock().unwrap()))
    };
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &component)
        .unwrap();
    Composed {
        store,
        instance,
        adapters,
    }
}

impl Composed {
    fn call<P, R>(&mut self, name: &str, params: P) -> wasmtime::Result<R>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        let func = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .unwrap();
        func.call(&mut self.store, params)
    }
}

/// Lengths around the edges: empty, one, odd, a page, past a page.
const LENGTHS: [usize; 7] = [0, 1, 3, 255, 4096, 65_537, 100_000];

fn bytes(len: usize, salt: u64) -> Vec<u8> {
    // A xorshift stream: every byte value, no pattern a copy could fake.
    let mut x = (0x9e37_79b9_7f4a_7c15u64 ^ salt.wrapping_mul(0x2545_f491_4f6c_dd1d)) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

macro_rules! roundtrip {
    ($c:expr, $name:literal, $t:ty) => {{
        for (k, &len) in LENGTHS.iter().enumerate() {
            let raw = bytes(len * size_of::<$t>(), k as u64);
            let sent: Vec<$t> = raw
                .chunks_exact(size_of::<$t>())
                .map(|b| <$t>::from_le_bytes(b.try_into().unwrap()))
                .collect();
            let (back,): (Vec<$t>,) = $c.call($name, (sent.as_slice(),)).unwrap();
            let back_raw: Vec<u8> = back.iter().flat_map(|v| v.to_le_bytes()).collect();
            assert!(
                back_raw == raw,
                "{} with {len} elements came back different",
                $name
            );
        }
    }};
}

#[test]
fn lists_of_integers_and_floats_cross_bit_for_bit() {
    let mut c = composed();
    roundtrip!(c, "roundtrip-u8", u8);
    roundtrip!(c, "roundtrip-s8", i8);
    roundtrip!(c, "roundtrip-u16", u16);
    roundtrip!(c, "roundtrip-s16", i16);
    roundtrip!(c, "roundtrip-u32", u32);
    roundtrip!(c, "roundtrip-s32", i32);
    roundtrip!(c, "roundtrip-u64", u64);
    roundtrip!(c, "roundtrip-s64", i64);
    // Random bits include NaNs with payloads, signalling ones too.
    roundtrip!(c, "roundtrip-f32", f32);
    roundtrip!(c, "roundtrip-f64", f64);
}

#[test]
fn bools_are_still_normalized() {
    let mut c = composed();
    for &len in &LENGTHS {
        let sent = bytes(len, 7);
        let (back,): (Vec<u8>,) = c.call("bool-via-u8", (sent.as_slice(),)).unwrap();
        let expected: Vec<u8> = sent.iter().map(|&b| u8::from(b != 0)).collect();
        assert_eq!(back, expected, "{len} bools");
    }
}

#[test]
fn chars_are_still_validated() {
    let mut c = composed();
    let valid: Vec<u32> = "héllo, wörld ✓ 🦀".chars().map(u32::from).collect();
    let (back,): (Vec<u32>,) = c.call("char-via-u32", (valid.as_slice(),)).unwrap();
    assert_eq!(back, valid);
    for bad in [0xd800u32, 0xdfff, 0x11_0000, u32::MAX] {
        let mut c = composed();
        let sent = [u32::from('a'), bad];
        let err = c
            .call::<_, (Vec<u32>,)>("char-via-u32", (&sent[..],))
            .unwrap_err();
        assert_eq!(
            err.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::InvalidChar),
            "{bad:#x}: {err:?}"
        );
    }
}

#[test]
fn list_bounds_and_alignment_are_still_checked() {
    const MEMORY: u32 = 129 * 65536;
    let trap = |ptr: u32, len: u32, name: &str| {
        let mut c = composed();
        let result = match name {
            "raw-u32" => c.call::<_, (Vec<u32>,)>(name, (ptr, len)).map(|_| ()),
            _ => c.call::<_, (Vec<u8>,)>(name, (ptr, len)).map(|_| ()),
        };
        let err = result.unwrap_err();
        err.downcast_ref::<wasmtime::Trap>().copied()
    };
    // In bounds, to the last byte.
    let mut c = composed();
    let (back,): (Vec<u8>,) = c.call("raw-u8", (MEMORY - 3, 3u32)).unwrap();
    assert_eq!(back.len(), 3);
    let (back,): (Vec<u8>,) = c.call("raw-u8", (MEMORY, 0u32)).unwrap();
    assert!(back.is_empty());
    // One byte past the end, far past it, a length that wraps.
    for (ptr, len) in [(MEMORY - 3, 4), (MEMORY, 1), (0, u32::MAX), (u32::MAX, 2)] {
        assert_eq!(
            trap(ptr, len, "raw-u8"),
            Some(wasmtime::Trap::ListOutOfBounds),
            "ptr {ptr:#x} len {len}"
        );
    }
    // `u32` elements: the byte length overflows, or the pointer is unaligned.
    assert_eq!(
        trap(0, 0x4000_0000, "raw-u32"),
        Some(wasmtime::Trap::ListOutOfBounds)
    );
    assert_eq!(
        trap(1026, 1, "raw-u32"),
        Some(wasmtime::Trap::UnalignedPointer)
    );
}

/// The change itself: every list of a bulk type crosses by one
/// `memory.copy` (the argument and the result: two per function), and no
/// other list does. Without the carried patch there is none.
#[test]
fn bulk_lists_cross_by_memory_copy() {
    let c = composed();
    assert!(
        !c.adapters.is_empty(),
        "no adapter module was logged (is wasmtime-environ's trace logging reachable?)"
    );
    let copies: usize = c
        .adapters
        .iter()
        .map(|m| m.matches("memory.copy").count())
        .sum();
    assert_eq!(
        copies,
        2 * BULK.len(),
        "memory.copy in the adapters: {copies}, expected two for each of {BULK:?}"
    );
}
