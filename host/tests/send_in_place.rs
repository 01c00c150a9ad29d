//! `send` and `sendmsg` read the guest's bytes where the guest wrote them
//! (`host/src/native.rs`, `in_place`), in synchronous and async stores
//! alike: what arrives is what the guest's memory held, and a list that
//! does not lie within that memory traps before anything is sent, as the
//! generated bindings' lift does.
//!
//! The guest is a component written by hand, so that it can hand the host
//! any pointer and length it likes.

use std::io::{ErrorKind, Read};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use nativesock::NativesockCtx;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

/// The component: `send(fd, ptr, len)` and `sendmsg(fd, ptr, len)` pass
/// the bytes at `ptr..ptr + len` of its memory (`"hello"` is at 16) to the
/// host's function of that name, `sendmsg` as a single buffer.
const GUEST: &str = r#"
(component
  (import "nativesock:socket/native@0.1.0" (instance $native
    (type $inet (record (field "addr" (tuple u8 u8 u8 u8)) (field "port" u16)))
    (export "inet-address" (type $inet' (eq $inet)))
    (type $inet6 (record
      (field "addr" (tuple u16 u16 u16 u16 u16 u16 u16 u16))
      (field "port" u16) (field "flowinfo" u32) (field "scope-id" u32)))
    (export "inet6-address" (type $inet6' (eq $inet6)))
    (type $sockaddr (variant
      (case "unspec") (case "inet" $inet') (case "inet6" $inet6')
      (case "unix" (list u8)) (case "other" (tuple s32 (list u8)))))
    (export "sockaddr" (type $sockaddr' (eq $sockaddr)))
    (type $cmsg (record (field "level" s32) (field "kind" s32) (field "length" u32)))
    (export "cmsg-header" (type $cmsg' (eq $cmsg)))
    (export "send" (func
      (param "fd" s32) (param "data" (list u8)) (param "flags" s32)
      (result (result u32 (error s32)))))
    (export "sendmsg" (func
      (param "fd" s32) (param "data" (list u8)) (param "lengths" (list u32))
      (param "ancillary" (list $cmsg')) (param "ancillary-data" (list u8))
      (param "flags" s32) (param "address" (option $sockaddr'))
      (result (result u32 (error s32)))))
  ))
  (core module $memory (memory (export "memory") 1))
  (core instance $memory (instantiate $memory))
  (alias core export $memory "memory" (core memory $mem))
  (core func $send (canon lower (func $native "send") (memory $mem)))
  (core func $sendmsg (canon lower (func $native "sendmsg") (memory $mem)))
  (core module $guest
    (import "env" "memory" (memory 1))
    (import "native" "send" (func $send (param i32 i32 i32 i32 i32)))
    (import "native" "sendmsg" (func $sendmsg (param i32 i32)))
    (data (i32.const 16) "hello")
    (func (export "send") (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
      (call $send (local.get $fd) (local.get $ptr) (local.get $len) (i32.const 0) (i32.const 256))
      (i32.const 256))
    ;; sendmsg's arguments are too many to pass flat: they are a record at
    ;; 512, with the one buffer's length at 600.
    (func (export "sendmsg") (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
      (i32.store (i32.const 600) (local.get $len))
      (i32.store (i32.const 512) (local.get $fd))
      (i32.store (i32.const 516) (local.get $ptr))
      (i32.store (i32.const 520) (local.get $len))
      (i32.store (i32.const 524) (i32.const 600))
      (i32.store (i32.const 528) (i32.const 1))
      (i32.store (i32.const 532) (i32.const 0))
      (i32.store (i32.const 536) (i32.const 0))
      (i32.store (i32.const 540) (i32.const 0))
      (i32.store (i32.const 544) (i32.const 0))
      (i32.store (i32.const 548) (i32.const 0))
      (i32.store8 (i32.const 552) (i32.const 0))
      (call $sendmsg (i32.const 512) (i32.const 256))
      (i32.const 256)))
  (core instance $guest (instantiate $guest
    (with "env" (instance (export "memory" (memory $mem))))
    (with "native" (instance (export "send" (func $send)) (export "sendmsg" (func $sendmsg))))))
  (func (export "send") (param "fd" s32) (param "ptr" u32) (param "len" u32)
    (result (result u32 (error s32)))
    (canon lift (core func $guest "send") (memory $mem)))
  (func (export "sendmsg") (param "fd" s32) (param "ptr" u32) (param "len" u32)
    (result (result u32 (error s32)))
    (canon lift (core func $guest "sendmsg") (memory $mem)))
)
"#;

type Sent = Result<u32, i32>;

/// The cases every store runs, for each of the two functions.
const CASES: [(u32, u32, Option<&[u8]>); 5] = [
    // The guest's "hello", in place.
    (16, 5, Some(b"hello")),
    // Nothing.
    (16, 0, Some(b"")),
    // The last bytes of the memory (zeroes).
    (65536 - 3, 3, Some(&[0, 0, 0])),
    // One byte past the end: a trap.
    (65536 - 3, 4, None),
    // A length that wraps around the address space: a trap.
    (16, u32::MAX, None),
];

/// A store whose guest owns one end of a socket pair, and the other end.
fn store(engine: &Engine) -> (Store<NativesockCtx>, i32, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    theirs.set_nonblocking(true).unwrap();
    let mut ctx = NativesockCtx::builder().build();
    let fd = ctx.grant_fd(OwnedFd::from(ours));
    (Store::new(engine, ctx), fd, theirs)
}

/// What has arrived at `peer` so far.
fn arrived(peer: &mut UnixStream) -> Vec<u8> {
    let mut got = vec![0; 64];
    match peer.read(&mut got) {
        Ok(n) => got.truncate(n),
        Err(e) if e.kind() == ErrorKind::WouldBlock => got.clear(),
        Err(e) => panic!("read: {e}"),
    }
    got
}

fn check(
    function: &str,
    ptr: u32,
    len: u32,
    want: Option<&[u8]>,
    called: wasmtime::Result<Sent>,
    peer: &mut UnixStream,
) {
    match want {
        Some(bytes) => {
            let n = u32::try_from(bytes.len()).unwrap();
            assert_eq!(called.unwrap(), Ok(n), "{function}({ptr}, {len})");
            assert_eq!(arrived(peer), bytes, "{function}({ptr}, {len})");
        }
        None => {
            let err = called.expect_err("a list outside memory traps");
            assert!(
                format!("{err:?}").contains("out of bounds"),
                "{function}({ptr}, {len}): {err:?}"
            );
            assert_eq!(arrived(peer), b"", "{function}({ptr}, {len}) sent nothing");
        }
    }
}

#[test]
fn sends_read_the_guests_memory_in_place_in_synchronous_stores() {
    let engine = Engine::default();
    let component = Component::new(&engine, wat::parse_str(GUEST).unwrap()).unwrap();
    let mut linker = Linker::new(&engine);
    nativesock::add_to_linker(&mut linker).unwrap();
    for function in ["send", "sendmsg"] {
        for (ptr, len, want) in CASES {
            // A trap poisons its store: one store per case.
            let (mut store, fd, mut peer) = store(&engine);
            let instance = linker.instantiate(&mut store, &component).unwrap();
            let f = instance
                .get_typed_func::<(i32, u32, u32), (Sent,)>(&mut store, function)
                .unwrap();
            let called = f.call(&mut store, (fd, ptr, len)).map(|(r,)| r);
            check(function, ptr, len, want, called, &mut peer);
        }
    }
}

#[test]
fn sends_read_the_guests_memory_in_place_in_async_stores() {
    let engine = Engine::default();
    let component = Component::new(&engine, wat::parse_str(GUEST).unwrap()).unwrap();
    let mut linker = Linker::new(&engine);
    nativesock::add_to_linker_async(&mut linker).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for function in ["send", "sendmsg"] {
            for (ptr, len, want) in CASES {
                let (mut store, fd, mut peer) = store(&engine);
                let instance = linker
                    .instantiate_async(&mut store, &component)
                    .await
                    .unwrap();
                let f = instance
                    .get_typed_func::<(i32, u32, u32), (Sent,)>(&mut store, function)
                    .unwrap();
                let called = f.call_async(&mut store, (fd, ptr, len)).await.map(|(r,)| r);
                check(function, ptr, len, want, called, &mut peer);
            }
        }
    });
}

/// Redefining `send` and `sendmsg` takes shadowing for a moment; the
/// linker's own setting is what it was before.
#[test]
fn the_linkers_shadowing_is_left_as_it_was() {
    let engine = Engine::default();
    let redefine = |linker: &mut Linker<NativesockCtx>| {
        linker
            .instance("nativesock:socket/native@0.1.0")
            .and_then(|mut i| i.func_wrap("send", |_, (): ()| Ok(())))
    };

    let mut strict = Linker::<NativesockCtx>::new(&engine);
    nativesock::add_to_linker(&mut strict).unwrap();
    assert!(redefine(&mut strict).is_err(), "still no shadowing");
    let mut strict = Linker::<NativesockCtx>::new(&engine);
    nativesock::add_to_linker_async(&mut strict).unwrap();
    assert!(redefine(&mut strict).is_err(), "still no shadowing");

    let mut lenient = Linker::<NativesockCtx>::new(&engine);
    lenient.allow_shadowing(true);
    nativesock::add_to_linker(&mut lenient).unwrap();
    nativesock::add_to_linker(&mut lenient).unwrap();
    assert!(redefine(&mut lenient).is_ok(), "still shadowing");
}
