//! Regression tests for what a hostile guest found on the second trust
//! review (issue 9): each names the hole it closes, and each checks what a
//! peer outside the store sees, not only what the store returns.

use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::hooks::{AuditArg, AuditEvent, AuditScalar};
use crate::sys::SockAddr;
use crate::test_support::run_alone;
use crate::{DENIED_EVENT, HOST_FD_RESERVE, LIMIT_EVENT, NativesockCtx, NativesockCtxBuilder};

fn v4(ip: [u8; 4], port: u16) -> SockAddr {
    SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::from(ip), port))
}

fn v6(ip: Ipv6Addr, port: u16) -> SockAddr {
    SockAddr::Inet6(SocketAddrV6::new(ip, port, 0, 0))
}

fn port_of(a: &SockAddr) -> u16 {
    match a {
        SockAddr::Inet(a) => a.port(),
        SockAddr::Inet6(a) => a.port(),
        other => panic!("not inet: {other:?}"),
    }
}

/// A store granted `connect`, `bind` and `sendto` by the given rules, and
/// the events its hook records.
fn store(
    connect: &[&str],
    bind: &[&str],
    sendto: &[&str],
    configure: impl FnOnce(&mut NativesockCtxBuilder),
) -> (NativesockCtx, Arc<Mutex<Vec<AuditEvent>>>) {
    let mut b = NativesockCtx::builder();
    for r in connect {
        b.allow_connect(r.parse().unwrap());
    }
    for r in bind {
        b.allow_bind(r.parse().unwrap());
    }
    for r in sendto {
        b.allow_sendto(r.parse().unwrap());
    }
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    b.audit_hook(move |e| {
        seen.lock().unwrap().push(e.clone());
        Ok(())
    });
    configure(&mut b);
    (b.build(), events)
}

fn loopback_store() -> (NativesockCtx, Arc<Mutex<Vec<AuditEvent>>>) {
    let all = ["127.0.0.0/8", "::1"];
    store(&all, &all, &all, |_| {})
}

/// How many `nativesock.denied` events name `operation`.
fn denials(events: &Mutex<Vec<AuditEvent>>, operation: &str) -> usize {
    let op = AuditArg::Scalar(AuditScalar::Str(operation.into()));
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.name == DENIED_EVENT && e.args.first() == Some(&op))
        .count()
}

/// An `SCM_RIGHTS` item passing `fds`.
fn rights(fds: &[RawFd]) -> crate::sys::Cmsg {
    crate::sys::Cmsg {
        level: libc::SOL_SOCKET,
        kind: libc::SCM_RIGHTS,
        data: fds.iter().flat_map(|n| n.to_ne_bytes()).collect(),
    }
}

/// Nothing is waiting on a listener outside the store.
fn no_connection(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// The number of fds the process has open.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count() - 1
}

/// A TCP connection from the store to a peer outside it that never reads:
/// (the store's fd, the peer's stream).
fn outside_peer(ctx: &mut NativesockCtx) -> (RawFd, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let c = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.connect(c, &v4([127, 0, 0, 1], port)).unwrap();
    let (peer, _) = listener.accept().unwrap();
    (c, peer)
}

/// Fills `fd`'s send queue and the peer's receive window with `byte`.
fn fill(ctx: &mut NativesockCtx, fd: RawFd, byte: u8) -> usize {
    let chunk = vec![byte; 1 << 16];
    let mut sent = 0;
    while let Ok(n) = ctx.send(fd, &chunk, libc::MSG_DONTWAIT) {
        sent += n;
    }
    sent
}

// 1. Host memory on the wire.

#[test]
fn zerocopy_never_reaches_the_kernel_whatever_the_grants() {
    for inherit in [false, true] {
        let (mut ctx, events) = store(&["127.0.0.0/8"], &[], &[], |b| {
            if inherit {
                b.inherit_network();
            }
        });
        let (c, mut peer) = outside_peer(&mut ctx);
        let on = 1i32.to_ne_bytes();
        assert_eq!(
            ctx.setsockopt(c, libc::SOL_SOCKET, libc::SO_ZEROCOPY, &on),
            Err(libc::EACCES)
        );
        let sent = fill(&mut ctx, c, b'B');
        let data = vec![b'A'; 32 << 10];
        let zc = libc::MSG_ZEROCOPY | libc::MSG_DONTWAIT;
        assert_eq!(ctx.send(c, &data, zc), Err(libc::EACCES));
        let to = v4([127, 0, 0, 1], 9);
        assert_eq!(ctx.sendto(c, &data, zc, &to), Err(libc::EACCES));
        assert_eq!(
            ctx.sendmsg(c, &[data.as_slice()], &[], zc, None),
            Err(libc::EACCES)
        );
        assert_eq!(denials(&events, "setsockopt"), 1);
        assert_eq!(denials(&events, "send"), 1);
        // What the peer reads is exactly what the guest sent.
        ctx.close(c).unwrap();
        let mut got = Vec::new();
        peer.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), sent);
        assert!(got.iter().all(|&b| b == b'B'));
    }
}

#[test]
fn zerocopy_is_refused_on_a_granted_socket_that_has_it_on() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let out = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let on = 1i32.to_ne_bytes();
    // SAFETY: a valid fd and a 4-byte option value.
    let r = unsafe {
        libc::setsockopt(
            out.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ZEROCOPY,
            on.as_ptr().cast(),
            4,
        )
    };
    assert_eq!(r, 0);
    let mut ctx = NativesockCtx::builder().build();
    let n = ctx.grant_fd(out.into());
    assert_eq!(ctx.send(n, b"x", libc::MSG_ZEROCOPY), Err(libc::EACCES));
    assert_eq!(ctx.send(n, b"x", 0), Ok(1));
}

// 12. Options and flags from a list.

#[test]
fn options_that_reach_past_the_policy_are_refused_and_audited() {
    let (mut ctx, events) = loopback_store();
    let s = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    let one = 1i32.to_ne_bytes();
    for (level, name, value) in [
        (libc::SOL_SOCKET, libc::SO_MARK, one.to_vec()),
        (libc::SOL_SOCKET, libc::SO_BINDTODEVICE, b"lo\0".to_vec()),
        (libc::IPPROTO_IP, libc::IP_TRANSPARENT, one.to_vec()),
        (libc::IPPROTO_TCP, libc::TCP_REPAIR, one.to_vec()),
        // A loose source route through 127.0.0.1.
        (
            libc::IPPROTO_IP,
            libc::IP_OPTIONS,
            vec![0x83, 7, 4, 127, 0, 0, 1, 0],
        ),
        (libc::IPPROTO_TCP, libc::TCP_ULP, b"tls".to_vec()),
        (libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, vec![0; 16]),
    ] {
        assert_eq!(
            ctx.setsockopt(s, level, name, &value),
            Err(libc::EACCES),
            "({level}, {name})"
        );
        assert_eq!(ctx.setsockopt_null(s, level, name, 4), Err(libc::EACCES));
    }
    assert_eq!(denials(&events, "setsockopt"), 14);
    // What CPython programs set still works, and reading stays the kernel's.
    ctx.setsockopt(s, libc::SOL_SOCKET, libc::SO_REUSEADDR, &one)
        .unwrap();
    ctx.setsockopt(s, libc::IPPROTO_TCP, libc::TCP_NODELAY, &one)
        .unwrap();
    assert_eq!(
        ctx.getsockopt(s, libc::SOL_SOCKET, 92, 4),
        Err(libc::ENOPROTOOPT)
    );
    assert_eq!(
        ctx.getsockopt(s, libc::IPPROTO_TCP, libc::TCP_ZEROCOPY_RECEIVE, 64),
        Err(libc::EACCES)
    );
    // Flags outside send(2)'s and recv(2)'s lists.
    assert_eq!(ctx.send(s, b"x", 0x1000_0000), Err(libc::EACCES));
    assert_eq!(ctx.recv(s, 1, 0x1000_0000), Err(libc::EACCES));
}

#[test]
fn a_dedicated_grant_lifts_one_option() {
    let (mut ctx, _) = store(&[], &[], &[], |b| {
        b.allow_sockopt(libc::SOL_SOCKET, libc::SO_MARK);
    });
    let s = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    let r = ctx.setsockopt(s, libc::SOL_SOCKET, libc::SO_MARK, &1i32.to_ne_bytes());
    // The kernel's answer now: allowed as root, EPERM otherwise.
    assert!(matches!(r, Ok(()) | Err(libc::EPERM)), "{r:?}");
    assert_eq!(
        ctx.setsockopt(s, libc::IPPROTO_IP, libc::IP_TRANSPARENT, &[1, 0, 0, 0]),
        Err(libc::EACCES)
    );
}

// 2. pidfds the kernel installs whatever the length.

#[test]
#[ignore = "counts the process's fds: run alone by `short_peerpidfd_buffers_leak_nothing`"]
fn short_peerpidfd_buffers_child() {
    let base = open_fds();
    let mut ctx = NativesockCtx::builder().build();
    let (a, _b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    for i in 0..1000u32 {
        let length = i % 4;
        match ctx.getsockopt(a, libc::SOL_SOCKET, 77, length) {
            Ok(raw) => assert_eq!(raw.len(), length as usize),
            Err(e) => assert!(matches!(e, libc::ENOPROTOOPT | libc::EMFILE), "{e}"),
        }
        assert_eq!(open_fds(), base + ctx.owned_fds().len(), "call {i}");
    }
    drop(ctx);
    assert_eq!(open_fds(), base);
}

#[test]
fn short_peerpidfd_buffers_leak_nothing() {
    run_alone(
        "hostile_tests::short_peerpidfd_buffers_child",
        Duration::from_secs(60),
    );
}

// 3. The host's own fds under a low limit.

#[test]
#[ignore = "lowers RLIMIT_NOFILE: run alone by `stores_leave_the_host_a_reserve_of_fds`"]
fn fd_reserve_child() {
    let limit = (open_fds() + 300) as u64;
    let nofile = rustix::process::Resource::Nofile;
    let hard = rustix::process::getrlimit(nofile).maximum;
    rustix::process::setrlimit(
        nofile,
        rustix::process::Rlimit {
            current: Some(limit),
            maximum: hard,
        },
    )
    .unwrap();
    let (mut ctx, events) = store(&[], &[], &[], |b| {
        b.max_open_sockets(100_000);
    });
    let mut made = 0;
    let errno = loop {
        match ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0) {
            Ok(_) => made += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(errno, libc::EMFILE);
    assert!(made > 100, "{made}");
    // The host still has its reserve: files, pipes and logs open.
    let files: Vec<_> = (0..HOST_FD_RESERVE - 4)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    drop(files);
    let limit_event = events.lock().unwrap().iter().any(|e| {
        e.name == LIMIT_EVENT && e.args[0] == AuditArg::Scalar(AuditScalar::Str("host-fds".into()))
    });
    assert!(limit_event);
    // And the default cap follows the limit.
    let default = NativesockCtx::builder().build();
    assert_eq!(
        default.limits().max_open_sockets as u64,
        limit - u64::from(HOST_FD_RESERVE)
    );
}

#[test]
fn stores_leave_the_host_a_reserve_of_fds() {
    run_alone("hostile_tests::fd_reserve_child", Duration::from_secs(60));
}

// 4. The unspecified address and IP_PKTINFO.

#[test]
fn connecting_to_the_unspecified_address_is_checked_where_it_lands() {
    // Bind 127.0.0.2 (granted), connect 0.0.0.0:P with only 127.0.0.1:P
    // granted: Linux would connect to 127.0.0.2:P.
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = target.local_addr().unwrap().port();
    let rule = format!("127.0.0.1:{port}");
    let (mut ctx, events) = store(&[&rule], &["127.0.0.0/8"], &[], |_| {});
    let s = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.bind(s, &v4([127, 0, 0, 2], 0)).unwrap();
    assert_eq!(ctx.connect(s, &v4([0; 4], port)), Err(libc::EACCES));
    assert!(no_connection(&target));
    assert_eq!(denials(&events, "connect"), 1);

    // Granted where it lands, it connects there.
    let rule = format!("127.0.0.2:{port}");
    let (mut ctx, _) = store(&[&rule], &["127.0.0.0/8"], &[], |_| {});
    let s = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.bind(s, &v4([127, 0, 0, 2], 0)).unwrap();
    ctx.connect(s, &v4([0; 4], port)).unwrap();
    target.set_nonblocking(false).unwrap();
    let (_, from) = target.accept().unwrap();
    assert_eq!(from.ip().to_string(), "127.0.0.2");

    // Unbound, the unspecified address is loopback, as natively.
    let local = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = local.local_addr().unwrap().port();
    let rule = format!("127.0.0.1:{port}");
    let (mut ctx, _) = store(&[&rule], &[], &[], |_| {});
    let s = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.connect(s, &v4([0; 4], port)).unwrap();
    assert_eq!(ctx.getpeername(s).unwrap(), v4([127, 0, 0, 1], port));
}

#[test]
fn an_ipv6_socket_on_a_mapped_address_cannot_reach_ipv4_through_the_wildcard() {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = target.local_addr().unwrap().port();
    // Connect only to ::1; bind anywhere in 127/8 (as IPv4-mapped).
    let (mut ctx, _) = store(&["::1"], &["127.0.0.0/8"], &[], |_| {});
    let s = ctx.socket(libc::AF_INET6, libc::SOCK_STREAM, 0).unwrap();
    let mapped = Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped();
    ctx.bind(s, &v6(mapped, 0)).unwrap();
    assert_eq!(
        ctx.connect(s, &v6(Ipv6Addr::UNSPECIFIED, port)),
        Err(libc::EACCES)
    );
    assert!(no_connection(&target));
}

#[test]
fn datagrams_to_the_unspecified_address_follow_their_pktinfo_source() {
    let target = UdpSocket::bind("127.0.0.2:0").unwrap();
    target.set_nonblocking(true).unwrap();
    let port = target.local_addr().unwrap().port();
    let (mut ctx, events) = store(&[], &[], &["127.0.0.1"], |_| {});
    let u = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    let pktinfo = |ifindex: i32, src: [u8; 4]| crate::sys::Cmsg {
        level: libc::IPPROTO_IP,
        kind: libc::IP_PKTINFO,
        data: [ifindex.to_ne_bytes(), src, [0; 4]].concat(),
    };
    let to = v4([0; 4], port);
    assert_eq!(
        ctx.sendmsg(
            u,
            &[b"x".as_slice()],
            &[pktinfo(0, [127, 0, 0, 2])],
            0,
            Some(&to)
        ),
        Err(libc::EACCES)
    );
    // An interface index picks a device, as SO_BINDTODEVICE would.
    let lo = v4([127, 0, 0, 1], port);
    assert_eq!(
        ctx.sendmsg(u, &[b"x".as_slice()], &[pktinfo(1, [0; 4])], 0, Some(&lo)),
        Err(libc::EACCES)
    );
    // Source routes in ancillary data.
    let retopts = crate::sys::Cmsg {
        level: libc::IPPROTO_IP,
        kind: libc::IP_RETOPTS,
        data: vec![0x83, 7, 4, 127, 0, 0, 2, 0],
    };
    assert_eq!(
        ctx.sendmsg(u, &[b"x".as_slice()], &[retopts], 0, Some(&lo)),
        Err(libc::EACCES)
    );
    assert_eq!(denials(&events, "sendmsg"), 3);
    std::thread::sleep(Duration::from_millis(50));
    let mut buf = [0; 8];
    assert!(
        target.recv_from(&mut buf).is_err(),
        "nothing reached 127.0.0.2"
    );
}

// 5 and 6. Sockets in flight.

#[test]
fn a_lingering_socket_parked_in_a_message_does_not_stall_the_drop() {
    let (mut ctx, _) = loopback_store();
    let (c, _peer) = outside_peer(&mut ctx);
    let linger = [1i32.to_ne_bytes(), 10i32.to_ne_bytes()].concat();
    ctx.setsockopt(c, libc::SOL_SOCKET, libc::SO_LINGER, &linger)
        .unwrap();
    fill(&mut ctx, c, 0);
    let (a, _b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    let passing = rights(&[c]);
    ctx.sendmsg(a, &[b"x".as_slice()], &[passing], 0, None)
        .unwrap();
    ctx.close(c).unwrap();
    let start = Instant::now();
    drop(ctx);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn sockets_in_flight_do_not_outlive_the_store() {
    let (mut ctx, _) = loopback_store();
    let l = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.bind(l, &v4([127, 0, 0, 1], 0)).unwrap();
    ctx.listen(l, 8).unwrap();
    let port = port_of(&ctx.getsockname(l).unwrap());
    let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    let passing = rights(&[l, a, b]);
    ctx.sendmsg(a, &[b"x".as_slice()], &[passing], 0, None)
        .unwrap();
    for fd in [l, a, b] {
        ctx.close(fd).unwrap();
    }
    // Still the store's while it lives...
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(ctx);
    // ...and gone with it.
    let after = TcpStream::connect(("127.0.0.1", port));
    assert_eq!(
        after.map_err(|e| e.kind()).err(),
        Some(ErrorKind::ConnectionRefused)
    );
}

#[test]
fn parked_sockets_count_against_the_cap() {
    let (mut ctx, _) = store(&[], &[], &[], |b| {
        b.max_open_sockets(4);
    });
    let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    let mut parked = 0;
    let errno = loop {
        let s = match ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0) {
            Ok(s) => s,
            Err(e) => break e,
        };
        let passing = rights(&[s]);
        match ctx.sendmsg(a, &[b"x".as_slice()], &[passing], 0, None) {
            Ok(_) => parked += 1,
            Err(e) => break e,
        }
        ctx.close(s).unwrap();
        assert!(parked < 10, "parking got round the cap");
    };
    assert_eq!(errno, libc::EMFILE);
    assert_eq!(parked, 1);
    // Receiving a parked socket back frees its place.
    let msg = ctx.recvmsg(b, 1, 64, 0).unwrap();
    assert_eq!(msg.ancillary.len(), 1);
    let back = i32::from_ne_bytes(msg.ancillary[0].data[..4].try_into().unwrap());
    ctx.close(back).unwrap();
    // a, b and the socket the loop could not park: room for one more.
    ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    assert_eq!(
        ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0),
        Err(libc::EMFILE)
    );
}

// 7. Autobound abstract names.

#[test]
fn passcred_cannot_autobind_an_abstract_listener_without_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, events) = store(&[], &[], &[], |b| {
        b.allow_unix_dir(dir.path());
    });
    let s = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    ctx.setsockopt(s, libc::SOL_SOCKET, libc::SO_PASSCRED, &1i32.to_ne_bytes())
        .unwrap();
    let missing = dir.path().join("missing");
    let missing = SockAddr::Unix(missing.as_os_str().as_encoded_bytes().to_vec());
    assert_eq!(ctx.connect(s, &missing), Err(libc::EACCES));
    assert_eq!(ctx.getsockname(s).unwrap(), SockAddr::Unix(Vec::new()));
    assert_eq!(ctx.listen(s, 1), Err(libc::EACCES));
    // A dup'd fd is the same socket.
    let d = ctx.dup(s).unwrap();
    assert_eq!(ctx.connect(d, &missing), Err(libc::EACCES));
    // Datagrams too: a send would autobind the sender.
    let u = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    ctx.setsockopt(u, libc::SOL_SOCKET, libc::SO_PASSCRED, &1i32.to_ne_bytes())
        .unwrap();
    assert_eq!(ctx.sendto(u, b"x", 0, &missing), Err(libc::EACCES));
    assert_eq!(ctx.getsockname(u).unwrap(), SockAddr::Unix(Vec::new()));
    // Passed to itself and received under another number, still the same.
    let (p, q) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    let passing = rights(&[u]);
    ctx.sendmsg(p, &[b"x".as_slice()], &[passing], 0, None)
        .unwrap();
    ctx.close(u).unwrap();
    let msg = ctx.recvmsg(q, 1, 64, 0).unwrap();
    let v = i32::from_ne_bytes(msg.ancillary[0].data[..4].try_into().unwrap());
    assert_eq!(ctx.sendto(v, b"x", 0, &missing), Err(libc::EACCES));
    assert_eq!(ctx.getsockname(v).unwrap(), SockAddr::Unix(Vec::new()));
    assert_eq!(denials(&events, "connect"), 2);
    assert_eq!(denials(&events, "sendto"), 2);
    assert_eq!(denials(&events, "listen"), 1);

    // A socket autobound behind the policy's back (here by the kernel,
    // for a store that had the grant) may not listen without it.
    let (mut granted, _) = store(&[], &[], &[], |b| {
        b.allow_unix_dir(dir.path()).allow_abstract_unix(true);
    });
    let t = granted.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    granted
        .setsockopt(t, libc::SOL_SOCKET, libc::SO_PASSCRED, &1i32.to_ne_bytes())
        .unwrap();
    assert_eq!(granted.connect(t, &missing), Err(libc::ENOENT));
    let autobound = granted.take_fd(t).unwrap();
    let (mut plain, _) = store(&[], &[], &[], |b| {
        b.allow_unix_dir(dir.path());
    });
    let t = plain.grant_fd(autobound);
    assert_eq!(plain.listen(t, 1), Err(libc::EACCES));
}

// 8. A `[::]` bind also serves IPv4.

#[test]
fn a_wildcard_ipv6_bind_needs_the_ipv4_grant_unless_v6only() {
    let (mut ctx, events) = store(&[], &["[::]/0"], &[], |_| {});
    let s = ctx.socket(libc::AF_INET6, libc::SOCK_STREAM, 0).unwrap();
    assert_eq!(
        ctx.bind(s, &v6(Ipv6Addr::UNSPECIFIED, 0)),
        Err(libc::EACCES)
    );
    assert_eq!(ctx.listen(s, 1), Err(libc::EACCES), "the implicit bind too");
    assert_eq!(denials(&events, "bind"), 1);
    assert_eq!(denials(&events, "listen"), 1);
    ctx.setsockopt(
        s,
        libc::IPPROTO_IPV6,
        libc::IPV6_V6ONLY,
        &1i32.to_ne_bytes(),
    )
    .unwrap();
    ctx.bind(s, &v6(Ipv6Addr::UNSPECIFIED, 0)).unwrap();

    let (mut both, _) = store(&[], &["[::]/0", "0.0.0.0"], &[], |_| {});
    let s = both.socket(libc::AF_INET6, libc::SOCK_STREAM, 0).unwrap();
    both.bind(s, &v6(Ipv6Addr::UNSPECIFIED, 0)).unwrap();
}

// 9. Forged host events.

#[test]
fn a_guest_cannot_raise_the_hosts_events() {
    let (mut ctx, events) = loopback_store();
    for name in [DENIED_EVENT, LIMIT_EVENT, "nativesock.anything"] {
        let forged = AuditEvent {
            name: name.into(),
            args: vec![AuditArg::Scalar(AuditScalar::Str("connect".into()))],
        };
        let raised = ctx.audit(&forged).unwrap_err();
        assert_eq!(raised.exception, "ValueError");
    }
    assert!(events.lock().unwrap().is_empty(), "no hook saw them");
    let own = AuditEvent {
        name: "socket.connect".into(),
        args: vec![],
    };
    assert_eq!(ctx.audit(&own), Ok(()));
    assert_eq!(events.lock().unwrap().len(), 1);
}

// 10. Denied kinds never reach the kernel.

#[test]
fn denied_socket_kinds_are_refused_before_the_kernel() {
    let (mut ctx, events) = loopback_store();
    // The kernel would answer EAFNOSUPPORT (no Bluetooth here), EPERM
    // (packet sockets, unprivileged) or load SCTP: the policy answers first.
    for (family, socket_type, proto) in [
        (libc::AF_BLUETOOTH, libc::SOCK_STREAM, 0),
        (libc::AF_PACKET, libc::SOCK_RAW, 0),
        (libc::AF_NETLINK, libc::SOCK_RAW, 0),
        (libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP),
        (libc::AF_INET6, libc::SOCK_SEQPACKET, 0),
    ] {
        assert_eq!(
            ctx.socket(family, socket_type, proto),
            Err(libc::EACCES),
            "({family}, {socket_type}, {proto})"
        );
    }
    assert_eq!(
        ctx.socketpair(libc::AF_NETLINK, libc::SOCK_RAW, 0),
        Err(libc::EACCES)
    );
    assert_eq!(denials(&events, "socket"), 5);
    // What no kernel accepts keeps the kernel's errno.
    assert_eq!(
        ctx.socket(-1, libc::SOCK_STREAM, 0),
        Err(libc::EAFNOSUPPORT)
    );
    assert_eq!(
        ctx.socket(4096, libc::SOCK_STREAM, 0),
        Err(libc::EAFNOSUPPORT)
    );
    assert_eq!(ctx.socket(libc::AF_INET, 99, 0), Err(libc::EINVAL));
    assert_eq!(
        ctx.socket(libc::AF_INET, libc::SOCK_STREAM | 0x100, 0),
        Err(libc::EINVAL)
    );
    assert_eq!(ctx.owned_fds(), Vec::<RawFd>::new());
}

// 14. Name lookups under the blocking cap and cancellation.

#[test]
fn name_lookups_end_at_the_cap_and_on_cancel() {
    let slow = || {
        std::thread::sleep(Duration::from_millis(1500));
        Ok::<u8, i32>(1)
    };
    // The cap.
    let (ctx, events) = store(&[], &[], &[], |b| {
        b.max_blocking_time(Some(Duration::from_millis(100)));
    });
    let start = Instant::now();
    assert_eq!(ctx.lookup(slow, |e| e), Err(libc::ETIMEDOUT));
    assert!(start.elapsed() < Duration::from_millis(1000));
    let limit = AuditArg::Scalar(AuditScalar::Str("blocking-ms".into()));
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.args.first() == Some(&limit))
    );
    // A cancel from another thread.
    let (mut ctx, _) = store(&[], &[], &[], |_| {});
    let handle = ctx.cancel_handle();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        handle.cancel();
    });
    let start = Instant::now();
    assert_eq!(ctx.lookup(slow, |e| e), Err(libc::EINTR));
    assert!(start.elapsed() < Duration::from_millis(1000));
    canceller.join().unwrap();
    // Cancelled already: not even started.
    assert_eq!(ctx.lookup(|| Ok::<u8, i32>(1), |e| e), Err(libc::EINTR));
    // A quick lookup through the thread is the lookup's own answer.
    let (mut ctx, _) = store(&[], &[], &[], |b| {
        b.allow_name_lookup(true)
            .max_blocking_time(Some(Duration::from_secs(10)));
    });
    let found = ctx
        .getaddrinfo(
            Some("localhost"),
            Some("80"),
            libc::AF_INET,
            libc::SOCK_STREAM,
            0,
            0,
        )
        .unwrap();
    assert!(found.iter().any(|ai| ai.address == v4([127, 0, 0, 1], 80)));
    assert!(ctx.gethostbyname("localhost").is_ok());
}

// 13. Unix paths without a race.

#[test]
fn unix_paths_cannot_be_raced_out_of_the_grant() {
    use std::os::unix::net::{UnixDatagram, UnixListener};
    use std::sync::atomic::{AtomicBool, Ordering};
    let root = tempfile::tempdir().unwrap();
    let grant = root.path().join("grant");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(grant.join("x")).unwrap();
    std::fs::create_dir_all(outside.join("x")).unwrap();
    let inner = UnixListener::bind(grant.join("x/s")).unwrap();
    let inner_dgram = UnixDatagram::bind(grant.join("x/d")).unwrap();
    let outer = UnixListener::bind(outside.join("x/s")).unwrap();
    let outer_dgram = UnixDatagram::bind(outside.join("x/d")).unwrap();
    for s in [&inner, &outer] {
        s.set_nonblocking(true).unwrap();
    }
    outer_dgram.set_nonblocking(true).unwrap();
    inner_dgram.set_nonblocking(true).unwrap();

    // `grant/x` flips between the real directory and a symlink out.
    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (stop, grant) = (stop.clone(), grant.clone());
        std::thread::spawn(move || {
            let (x, real) = (grant.join("x"), grant.join("x.real"));
            while !stop.load(Ordering::Relaxed) {
                std::fs::rename(&x, &real).unwrap();
                std::os::unix::fs::symlink("../outside/x", &x).unwrap();
                std::thread::yield_now();
                std::fs::remove_file(&x).unwrap();
                std::fs::rename(&real, &x).unwrap();
                std::thread::yield_now();
            }
        })
    };
    let (mut ctx, _) = store(&[], &[], &[], |b| {
        b.allow_unix_dir(&grant);
    });
    let path =
        |name: &str| SockAddr::Unix(grant.join(name).as_os_str().as_encoded_bytes().to_vec());
    let (mut connected, mut sent, mut bound) = (0, 0, 0);
    for i in 0..3000 {
        // Non-blocking: a full backlog is EAGAIN, never a wait.
        let s = ctx
            .socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)
            .unwrap();
        connected += usize::from(ctx.connect(s, &path("x/s")).is_ok());
        ctx.close(s).unwrap();
        let u = ctx
            .socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0)
            .unwrap();
        sent += usize::from(ctx.sendto(u, b"in", 0, &path("x/d")).is_ok());
        ctx.close(u).unwrap();
        let b = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        bound += usize::from(ctx.bind(b, &path(&format!("x/b{i}"))).is_ok());
        // A raced bind took the socket away already.
        if ctx.owns_fd(b) {
            ctx.close(b).unwrap();
        }
        // Drain what reached the grant, so its queues never fill.
        while inner.accept().is_ok() {}
        while inner_dgram.recv(&mut [0; 4]).is_ok() {}
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();
    assert!(
        connected > 0 && sent > 0 && bound > 0,
        "{connected} {sent} {bound}"
    );
    // Nothing ever reached the directory outside the grant...
    assert!(matches!(outer.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock));
    assert!(matches!(outer_dgram.recv(&mut [0; 4]), Err(e) if e.kind() == ErrorKind::WouldBlock));
    // ...and what a raced bind left there is no live socket.
    for entry in std::fs::read_dir(outside.join("x")).unwrap() {
        let entry = entry.unwrap().path();
        if entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('b'))
        {
            let probe = UnixDatagram::unbound().unwrap();
            let e = probe.send_to(b"?", &entry).unwrap_err();
            assert_eq!(
                e.raw_os_error(),
                Some(libc::ECONNREFUSED),
                "{}",
                entry.display()
            );
        }
    }
}

#[test]
fn options_outside_the_list_keep_the_kernels_errno_for_what_it_does_not_know() {
    // As natively (observed on Linux 6.x with CPython): an unknown name is
    // ENOPROTOOPT, multicast routing on a non-raw socket EOPNOTSUPP, and a
    // unix socket knows no level but SOL_SOCKET (EOPNOTSUPP).
    let (mut ctx, events) = loopback_store();
    let t = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    let one = 1i32.to_ne_bytes();
    for (level, name, errno) in [
        (libc::SOL_SOCKET, 92, libc::ENOPROTOOPT),
        (libc::IPPROTO_TCP, 99, libc::ENOPROTOOPT),
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, libc::ENOPROTOOPT),
        (libc::IPPROTO_IP, 200, libc::EOPNOTSUPP),
        (9999, 1, libc::ENOPROTOOPT),
    ] {
        assert_eq!(
            ctx.setsockopt(t, level, name, &one),
            Err(errno),
            "({level}, {name})"
        );
    }
    let (a, _b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    for (level, name, errno) in [
        (libc::IPPROTO_TCP, 99, libc::EOPNOTSUPP),
        (libc::IPPROTO_TCP, libc::TCP_NODELAY, libc::EOPNOTSUPP),
        (libc::IPPROTO_IP, 200, libc::EOPNOTSUPP),
        (libc::SOL_SOCKET, 92, libc::ENOPROTOOPT),
    ] {
        assert_eq!(
            ctx.setsockopt(a, level, name, &one),
            Err(errno),
            "({level}, {name})"
        );
    }
    assert_eq!(
        denials(&events, "setsockopt"),
        0,
        "none of these is a denial"
    );
}
