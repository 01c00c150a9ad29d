//! Unit tests of the host's limits, cancellation, denial and limit events
//! and faults, on [`NativesockCtx`]'s checked operations.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::hooks::{AuditArg, AuditEvent, AuditScalar, Call, Fault};
use crate::sys::SockAddr;
use crate::{DENIED_EVENT, LIMIT_EVENT, NativesockCtx, NativesockCtxBuilder};

fn loopback(port: u16) -> SockAddr {
    SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

fn port_of(a: &SockAddr) -> u16 {
    match a {
        SockAddr::Inet(a) => a.port(),
        other => panic!("not inet: {other:?}"),
    }
}

fn builder() -> NativesockCtxBuilder {
    let mut b = NativesockCtx::builder();
    b.allow_connect("127.0.0.0/8".parse().unwrap())
        .allow_bind("127.0.0.0/8".parse().unwrap())
        .allow_sendto("127.0.0.0/8".parse().unwrap());
    b
}

/// A hook that records every event.
fn recorder(b: &mut NativesockCtxBuilder) -> Arc<Mutex<Vec<AuditEvent>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    b.audit_hook(move |e| {
        seen.lock().unwrap().push(e.clone());
        Ok(())
    });
    events
}

/// A store with [`builder`]'s grants, set up further by `configure`, and
/// the events its [`recorder`] hook records.
fn recorded_store(
    configure: impl FnOnce(&mut NativesockCtxBuilder) -> &mut NativesockCtxBuilder,
) -> (NativesockCtx, Arc<Mutex<Vec<AuditEvent>>>) {
    let mut b = builder();
    let events = recorder(&mut b);
    let ctx = configure(&mut b).build();
    (ctx, events)
}

/// How many of `events` are the limit event for `limit` set to `value`.
fn limit_events(events: &Mutex<Vec<AuditEvent>>, limit: &str, value: i64) -> usize {
    let limit = AuditEvent {
        name: LIMIT_EVENT.into(),
        args: vec![str_arg(limit), int_arg(value)],
    };
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| **e == limit)
        .count()
}

/// A TCP socket on 127.0.0.1 listening with `backlog`, and its port.
fn listener_with_backlog(ctx: &mut NativesockCtx, backlog: i32) -> (RawFd, u16) {
    let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.bind(fd, &loopback(0)).unwrap();
    ctx.listen(fd, backlog).unwrap();
    let port = port_of(&ctx.getsockname(fd).unwrap());
    (fd, port)
}

/// A TCP socket on 127.0.0.1 listening with a backlog of 8, and its port.
fn listener(ctx: &mut NativesockCtx) -> (RawFd, u16) {
    listener_with_backlog(ctx, 8)
}

/// A TCP socket connected to `port` on 127.0.0.1.
fn connected(ctx: &mut NativesockCtx, port: u16) -> RawFd {
    let c = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.connect(c, &loopback(port)).unwrap();
    c
}

/// A connected TCP pair over loopback: (client, accepted).
fn tcp_pair(ctx: &mut NativesockCtx) -> (RawFd, RawFd) {
    let (l, port) = listener(ctx);
    let c = connected(ctx, port);
    let (a, _) = ctx.accept(l, 0).unwrap();
    ctx.close(l).unwrap();
    (c, a)
}

/// A UDP socket bound on 127.0.0.1, and its address.
fn bound_udp(ctx: &mut NativesockCtx) -> (RawFd, SockAddr) {
    let u = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    ctx.bind(u, &loopback(0)).unwrap();
    let me = ctx.getsockname(u).unwrap();
    (u, me)
}

fn str_arg(s: &str) -> AuditArg {
    AuditArg::Scalar(AuditScalar::Str(s.into()))
}

fn int_arg(i: i64) -> AuditArg {
    AuditArg::Scalar(AuditScalar::Int(i))
}

#[test]
fn open_socket_cap_is_emfile_and_audited() {
    let (mut ctx, events) = recorded_store(|b| b.max_open_sockets(3));
    let a = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    let _b = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    assert_eq!(
        ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0),
        Err(libc::EMFILE),
        "a pair needs two"
    );
    let _c = ctx.dup(a).unwrap();
    assert_eq!(
        ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0),
        Err(libc::EMFILE)
    );
    assert_eq!(ctx.dup(a), Err(libc::EMFILE));
    // Ownership comes first: an fd the store does not own is still EBADF.
    assert_eq!(ctx.dup(0), Err(libc::EBADF));
    assert_eq!(ctx.owned_fds().len(), 3);
    ctx.close(a).unwrap();
    ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    assert_eq!(limit_events(&events, "open-sockets", 3), 3);
}

#[test]
fn accept_past_the_cap_leaves_the_connection_queued() {
    let mut ctx = builder().max_open_sockets(2).build();
    let (l, port) = listener(&mut ctx);
    let c = connected(&mut ctx, port);
    assert_eq!(ctx.accept(l, 0).map(|_| ()), Err(libc::EMFILE));
    ctx.close(c).unwrap();
    // Room again: the queued connection is still there.
    let (a, _) = ctx.accept(l, libc::SOCK_NONBLOCK).unwrap();
    assert!(ctx.owns_fd(a));
}

#[test]
fn send_cap_is_a_short_write_on_streams_and_emsgsize_on_datagrams() {
    let (mut ctx, events) = recorded_store(|b| b.max_send_bytes(4));
    let (c, a) = tcp_pair(&mut ctx);
    assert_eq!(ctx.send(c, b"0123456789", 0), Ok(4));
    ctx.poll(a, libc::POLLIN, 5000).unwrap();
    assert_eq!(ctx.recv(a, 100, 0).unwrap(), b"0123");
    let (u, me) = bound_udp(&mut ctx);
    assert_eq!(ctx.sendto(u, b"0123456789", 0, &me), Err(libc::EMSGSIZE));
    assert_eq!(ctx.sendto(u, b"0123", 0, &me), Ok(4));
    let (p, q) = ctx
        .socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0)
        .unwrap();
    assert_eq!(ctx.send(p, b"toolong", 0), Err(libc::EMSGSIZE));
    assert_eq!(ctx.send(p, b"ok", 0), Ok(2));
    assert_eq!(ctx.recv(q, 10, 0).unwrap(), b"ok");
    assert_eq!(limit_events(&events, "send-bytes", 4), 2);
}

#[test]
fn denials_raise_the_denied_event_and_hooks_cannot_allow_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = NativesockCtx::builder();
    b.allow_connect("127.0.0.1:1-1023".parse().unwrap());
    let events = recorder(&mut b);
    // A hook that "allows" by raising nothing, and one that raises: the
    // denial stands either way.
    b.audit_hook(|_| Err(crate::Raised::new("RuntimeError", "ignored")));
    let mut ctx = b.build();
    let s = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    assert_eq!(ctx.connect(s, &loopback(8080)), Err(libc::EACCES));
    assert_eq!(ctx.bind(s, &loopback(0)), Err(libc::EACCES));
    assert_eq!(ctx.listen(s, 1), Err(libc::EACCES));
    let path = dir.path().join("x");
    let unix = SockAddr::Unix(path.as_os_str().as_encoded_bytes().to_vec());
    let u = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    assert_eq!(ctx.sendto(u, b"x", 0, &unix), Err(libc::EACCES));
    assert_eq!(
        ctx.bind(u, &SockAddr::Unix(b"\0abstract".to_vec())),
        Err(libc::EACCES)
    );
    assert_eq!(
        ctx.socket(libc::AF_INET, libc::SOCK_RAW, 1),
        Err(libc::EACCES)
    );
    // SCTP connects and binds through socket options: it needs
    // inherit-network (unless the kernel lacks it).
    let sctp = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP);
    assert!(
        matches!(sctp, Err(libc::EACCES | libc::EPROTONOSUPPORT)),
        "{sctp:?}"
    );
    let err = ctx
        .getaddrinfo(Some("localhost"), None, 0, 0, 0, 0)
        .unwrap_err();
    assert_eq!(err.errno, Some(libc::EACCES));
    assert!(ctx.getnameinfo(&loopback(80), 0).is_err());
    let denied: Vec<Vec<AuditArg>> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.name == DENIED_EVENT)
        .map(|e| e.args.clone())
        .collect();
    let inet = |port| {
        AuditArg::Tuple(vec![
            AuditScalar::Str("127.0.0.1".into()),
            AuditScalar::Int(port),
        ])
    };
    assert_eq!(
        denied[0],
        [str_arg("connect"), int_arg(s.into()), inet(8080)]
    );
    assert_eq!(denied[1], [str_arg("bind"), int_arg(s.into()), inet(0)]);
    assert_eq!(
        denied[2],
        [
            str_arg("listen"),
            int_arg(s.into()),
            AuditArg::Tuple(vec![
                AuditScalar::Str("0.0.0.0".into()),
                AuditScalar::Int(0)
            ])
        ]
    );
    assert_eq!(
        denied[3],
        [
            str_arg("sendto"),
            int_arg(u.into()),
            str_arg(path.to_str().unwrap())
        ]
    );
    assert_eq!(
        denied[4],
        [
            str_arg("bind"),
            int_arg(u.into()),
            AuditArg::Scalar(AuditScalar::Bytes(b"\0abstract".to_vec()))
        ]
    );
    assert_eq!(
        denied[5],
        [
            str_arg("socket"),
            int_arg(libc::AF_INET.into()),
            int_arg(libc::SOCK_RAW.into()),
            int_arg(1)
        ]
    );
    let names: Vec<&str> = denied
        .iter()
        .map(|a| match &a[0] {
            AuditArg::Scalar(AuditScalar::Str(s)) => s.as_str(),
            _ => "",
        })
        .collect();
    assert!(
        names.ends_with(&["getaddrinfo", "getnameinfo"]),
        "{names:?}"
    );
}

#[test]
fn cancel_wakes_blocking_calls_from_another_thread() {
    let mut b = builder();
    let handle = b.cancel_handle();
    let mut ctx = b.build();
    let (c, a) = tcp_pair(&mut ctx);
    let (l, _port) = listener(&mut ctx);
    let canceller = {
        let handle = handle.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            handle.cancel();
        })
    };
    let start = Instant::now();
    assert_eq!(ctx.recv(a, 10, 0), Err(libc::EINTR));
    assert!(start.elapsed() < Duration::from_secs(5));
    canceller.join().unwrap();
    assert_eq!(ctx.check_signals(), Err(crate::cancelled_error()));
    // Every later blocking call stops at once, without the system call.
    assert_eq!(ctx.accept(l, 0).map(|_| ()), Err(libc::EINTR));
    assert_eq!(ctx.poll(a, libc::POLLIN, -1), Err(libc::EINTR));
    assert_eq!(ctx.send(c, b"x", 0), Err(libc::EINTR));
    // Non-blocking bookkeeping still works, and close still closes.
    assert!(ctx.getsockname(a).is_ok());
    ctx.close(c).unwrap();
    assert!(!ctx.owns_fd(c));
    // Reset: calls are made again.
    handle.reset();
    assert_eq!(ctx.check_signals(), Ok(()));
    assert_eq!(ctx.recv(a, 10, libc::MSG_DONTWAIT), Ok(Vec::new()));
}

#[test]
fn cancel_wakes_poll_accept_and_connect() {
    for which in ["poll", "accept", "connect"] {
        let mut b = builder();
        let handle = b.cancel_handle();
        let mut ctx = b.build();
        let (l, port) = listener(&mut ctx);
        // A full backlog (one queued connection on `listen(0)`) makes a
        // blocking connect wait for ever.
        let (full, full_port) = listener_with_backlog(&mut ctx, 0);
        let _queued = connected(&mut ctx, full_port);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            handle.cancel_with(crate::Raised::keyboard_interrupt());
        });
        let start = Instant::now();
        let result = match which {
            "poll" => ctx.poll(l, libc::POLLIN, -1).map(|_| ()),
            "accept" => ctx.accept(l, 0).map(|_| ()),
            _ => {
                let c = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
                ctx.connect(c, &loopback(full_port))
            }
        };
        t.join().unwrap();
        assert_eq!(result, Err(libc::EINTR), "{which}");
        assert!(start.elapsed() < Duration::from_secs(10), "{which}");
        assert_eq!(
            ctx.check_signals(),
            Err(crate::Raised::keyboard_interrupt())
        );
        let _ = (port, full);
    }
}

#[test]
fn blocking_time_cap_is_etimedout() {
    let (mut ctx, events) =
        recorded_store(|b| b.max_blocking_time(Some(Duration::from_millis(100))));
    let (_c, a) = tcp_pair(&mut ctx);
    let start = Instant::now();
    assert_eq!(ctx.recv(a, 10, 0), Err(libc::ETIMEDOUT));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(90) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // poll waits at most the cap; a shorter timeout is kept as it is.
    assert_eq!(ctx.poll(a, libc::POLLIN, -1), Err(libc::ETIMEDOUT));
    assert_eq!(ctx.poll(a, libc::POLLIN, 20), Ok(0));
    let (l, _) = listener(&mut ctx);
    assert_eq!(ctx.accept(l, 0).map(|_| ()), Err(libc::ETIMEDOUT));
    // A call that does not block is not affected.
    assert_eq!(ctx.recv(a, 10, libc::MSG_DONTWAIT), Err(libc::EAGAIN));
    assert_eq!(limit_events(&events, "blocking-ms", 100), 3);
}

#[test]
fn lingering_sockets_do_not_block_the_stores_drop() {
    let mut ctx = builder().build();
    let (c, _a) = tcp_pair(&mut ctx);
    let linger = [1i32.to_ne_bytes(), 3600i32.to_ne_bytes()].concat();
    ctx.setsockopt(c, libc::SOL_SOCKET, libc::SO_LINGER, &linger)
        .unwrap();
    // Fill the send buffer: the peer never reads.
    ctx.set_nonblocking(c, true).unwrap();
    let chunk = vec![0u8; 1 << 16];
    while ctx.send(c, &chunk, 0).is_ok() {}
    let start = Instant::now();
    drop(ctx);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn injected_short_writes_reads_and_errnos() {
    let script = Arc::new(Mutex::new(vec![
        (Call::Send, Fault::ShortWrite(3)),
        (Call::Send, Fault::Errno(libc::ECONNRESET)),
        (Call::Recv, Fault::ShortRead(2)),
        (Call::Sendto, Fault::Errno(libc::ENOBUFS)),
    ]));
    let todo = script.clone();
    let mut ctx = builder()
        .inject_faults(move |call| {
            let mut todo = todo.lock().unwrap();
            let i = todo.iter().position(|(c, _)| *c == call)?;
            Some(todo.remove(i).1)
        })
        .build();
    let (c, a) = tcp_pair(&mut ctx);
    assert_eq!(ctx.send(c, b"abcdef", 0), Ok(3));
    assert_eq!(ctx.send(c, b"def", 0), Err(libc::ECONNRESET));
    assert_eq!(ctx.send(c, b"def", 0), Ok(3));
    ctx.poll(a, libc::POLLIN, 5000).unwrap();
    assert_eq!(ctx.recv(a, 100, 0).unwrap(), b"ab");
    assert_eq!(ctx.recv(a, 100, 0).unwrap(), b"cdef");
    let (u, me) = bound_udp(&mut ctx);
    assert_eq!(ctx.sendto(u, b"x", 0, &me), Err(libc::ENOBUFS));
    assert!(script.lock().unwrap().is_empty());
}

#[test]
fn forged_credentials_are_refused() {
    let mut ctx = builder().build();
    let (a, _b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    // SAFETY: no preconditions.
    let (pid, uid, gid) = unsafe { (libc::getpid(), libc::getuid(), libc::getgid()) };
    let creds = |pid: i32| crate::sys::Cmsg {
        level: libc::SOL_SOCKET,
        kind: libc::SCM_CREDENTIALS,
        data: [pid.to_ne_bytes(), uid.to_ne_bytes(), gid.to_ne_bytes()].concat(),
    };
    assert_eq!(
        ctx.sendmsg(a, &[b"x".as_slice()], &[creds(pid + 1)], 0, None),
        Err(libc::EACCES)
    );
    assert_eq!(
        ctx.sendmsg(a, &[b"x".as_slice()], &[creds(pid)], 0, None),
        Ok(1)
    );
}

#[test]
fn received_fds_count_against_the_cap() {
    // The pair, one socket passed twice (and the copy the store keeps of
    // it while it is in flight), and one more socket.
    let mut ctx = builder().max_open_sockets(4).build();
    let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    let passed = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    let rights = crate::sys::Cmsg {
        level: libc::SOL_SOCKET,
        kind: libc::SCM_RIGHTS,
        data: [passed.to_ne_bytes(), passed.to_ne_bytes()].concat(),
    };
    ctx.sendmsg(a, &[b"x".as_slice()], &[rights], 0, None)
        .unwrap();
    ctx.close(passed).unwrap();
    let _other = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    // Room for one of the two: the copy's place is free once the last
    // one in flight has arrived.
    let msg = ctx.recvmsg(b, 10, 64, 0).unwrap();
    assert_ne!(msg.flags & libc::MSG_CTRUNC, 0);
    assert_eq!(ctx.owned_fds().len(), 4);
    assert!(ctx.parked_fds().is_empty());
}

#[test]
fn pidfds_the_kernel_installs_are_the_stores() {
    let mut ctx = builder().build();
    let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    // `SO_PEERPIDFD` (Linux 6.5): the fuzz target found the pidfd leaked.
    match ctx.getsockopt(a, libc::SOL_SOCKET, 77, 4) {
        Ok(raw) => {
            let pidfd = i32::from_ne_bytes(raw[..4].try_into().unwrap());
            assert!(ctx.owns_fd(pidfd), "the pidfd belongs to the store");
            ctx.close(pidfd).unwrap();
        }
        Err(e) => assert_eq!(e, libc::ENOPROTOOPT, "an older kernel"),
    }
    // `SO_PASSPIDFD` then `SCM_PIDFD` in `recvmsg`.
    if ctx
        .setsockopt(b, libc::SOL_SOCKET, 76, &1i32.to_ne_bytes())
        .is_ok()
    {
        ctx.send(a, b"x", 0).unwrap();
        let msg = ctx.recvmsg(b, 10, 256, 0).unwrap();
        for c in msg.ancillary.iter().filter(|c| c.kind == 4) {
            let pidfd = i32::from_ne_bytes(c.data[..4].try_into().unwrap());
            assert!(ctx.owns_fd(pidfd), "the SCM_PIDFD fd belongs to the store");
        }
    }
}
