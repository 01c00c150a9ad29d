//! Large receives under a small per-call cap (the host test sets 4096
//! bytes): a stream `recv(2**31)` returns what arrived, at most the cap, and
//! the rest stays queued; a datagram larger than the cap is never cut by
//! it (the host sizes the buffer from the datagram), only by the caller's
//! own size, which `recvmsg` reports as `MSG_TRUNC`.

use nativesock_test_programs::nativesock::socket::socket as ns;
use nativesock_test_programs::*;

const CAP: usize = 4096;
const HUGE: i64 = 1 << 31;

fn c(name: &str) -> i64 {
    constant(name).unwrap_or_else(|| panic!("no constant {name}"))
}

fn main() {
    let (a, b) = ns::socketpair(None, None, None).expect("socketpair()");
    let data: Vec<u8> = (0..22_000u32).map(|i| i as u8).collect();
    a.sendall(&data, None).unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        let chunk = b.recv(&int(HUGE), None).expect("recv(2**31)");
        assert_eq!(chunk.len(), CAP);
        got.extend(chunk);
    }
    let r = b.recv_into(1 << 31, None, None).expect("recv_into");
    assert_eq!((r.data.len(), r.nbytes), (CAP, CAP as u64));
    got.extend(r.data);
    let rest = b.recv(&int(HUGE), None).unwrap();
    assert_eq!(rest.len(), 22_000 - 5 * CAP);
    got.extend(rest);
    assert_eq!(got, data);
    println!("stream: recv(2**31) -> {CAP} bytes per call, in order");

    let (cs, d) =
        ns::socketpair(Some(&int(c("AF_UNIX"))), Some(&int(c("SOCK_DGRAM"))), None).unwrap();
    let big: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    cs.send(&big, None).unwrap();
    assert_eq!(d.recv(&int(HUGE), None).unwrap(), big);
    cs.send(&big, None).unwrap();
    let (got, addr) = d.recvfrom(&int(HUGE), None).unwrap();
    assert_eq!((got, addr), (big.clone(), None));
    cs.send(&big, None).unwrap();
    let msg = d.recvmsg(&int(HUGE), None, None).unwrap();
    assert_eq!((msg.data.len(), msg.msg_flags), (big.len(), 0));
    cs.send(&big, None).unwrap();
    let r = d.recv_into(1 << 31, None, None).unwrap();
    assert_eq!((r.data, r.nbytes), (big.clone(), big.len() as u64));
    cs.send(&big, None).unwrap();
    assert_eq!(d.recv(&int(100), None).unwrap(), big[..100]);
    cs.send(&big, None).unwrap();
    let msg = d.recvmsg(&int(100), None, None).unwrap();
    assert_eq!(msg.data, big[..100]);
    assert_eq!(msg.msg_flags, c("MSG_TRUNC"));
    println!("unix datagram: 10000 bytes whole under a {CAP}-byte cap");

    let u = udp();
    let me = u.getsockname().unwrap();
    let dgram: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(u.sendto(&dgram, None, &me).unwrap(), 60_000);
    let (got, from) = u.recvfrom(&int(HUGE), None).unwrap();
    assert_eq!(got, dgram);
    assert_eq!(from, Some(me));
    u.settimeout(&Value::Int(0)).unwrap();
    assert_raises(
        u.recv(&int(HUGE), None),
        "BlockingIOError",
        Some(11),
        "[Errno 11] Resource temporarily unavailable",
    );
    println!("udp: a 60000-byte datagram whole under a {CAP}-byte cap");
}
