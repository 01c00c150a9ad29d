//! Tests of the store context over real sockets.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn loopback(port: u16) -> SockAddr {
    SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

fn loopback6(port: u16) -> SockAddr {
    SockAddr::Inet6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0))
}

fn rule(s: &str) -> AddressRule {
    s.parse().unwrap()
}

/// A context allowed loopback only.
fn loopback_ctx() -> NativesockCtx {
    NativesockCtx::builder()
        .allow_connect(rule("127.0.0.0/8"))
        .allow_bind(rule("127.0.0.0/8"))
        .allow_sendto(rule("127.0.0.0/8"))
        .allow_connect(rule("::1"))
        .allow_bind(rule("::1"))
        .allow_sendto(rule("::1"))
        .build()
}

fn port_of(addr: &SockAddr) -> u16 {
    local_port(addr).expect("an IP address")
}

/// A listening TCP socket on 127.0.0.1 with an ephemeral port.
fn listener(ctx: &mut NativesockCtx) -> (RawFd, u16) {
    let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.bind(fd, &loopback(0)).unwrap();
    ctx.listen(fd, 8).unwrap();
    let port = port_of(&ctx.getsockname(fd).unwrap());
    (fd, port)
}

/// A connected TCP pair over loopback: (client, accepted).
fn tcp_pair(ctx: &mut NativesockCtx) -> (RawFd, RawFd) {
    let (l, port) = listener(ctx);
    let c = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.connect(c, &loopback(port)).unwrap();
    let (a, peer) = ctx.accept(l, 0).unwrap();
    assert_eq!(peer, ctx.getsockname(c).unwrap());
    ctx.close(l).unwrap();
    (c, a)
}

/// A port on 127.0.0.1 where nothing listens (bound, then closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn connect_to_a_closed_port_is_econnrefused() {
    let mut ctx = loopback_ctx();
    let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    assert_eq!(
        ctx.connect(fd, &loopback(closed_port())),
        Err(libc::ECONNREFUSED)
    );
    assert_eq!(libc::ECONNREFUSED, 111);
}

#[test]
fn nonblocking_connect_is_einprogress_then_poll_and_so_error() {
    let mut ctx = loopback_ctx();
    let (_l, port) = listener(&mut ctx);
    let fd = ctx
        .socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)
        .unwrap();
    assert!(ctx.get_nonblocking(fd).unwrap());
    match ctx.connect(fd, &loopback(port)) {
        Ok(()) => {}
        Err(e) => assert_eq!(e, libc::EINPROGRESS),
    }
    let revents = ctx.poll(fd, libc::POLLOUT | libc::POLLERR, 5000).unwrap();
    assert_ne!(revents & libc::POLLOUT, 0);
    let err = ctx
        .getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, 4)
        .unwrap();
    assert_eq!(i32::from_ne_bytes(err.try_into().unwrap()), 0);

    // The refused case reports ECONNREFUSED through SO_ERROR.
    let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.set_nonblocking(fd, true).unwrap();
    let _ = ctx.connect(fd, &loopback(closed_port()));
    let revents = ctx.poll(fd, libc::POLLOUT | libc::POLLERR, 5000).unwrap();
    assert_ne!(revents & libc::POLLERR, 0);
    let err = ctx
        .getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, 4)
        .unwrap();
    assert_eq!(
        i32::from_ne_bytes(err.try_into().unwrap()),
        libc::ECONNREFUSED
    );
}

#[test]
fn sockets_are_close_on_exec_and_cloexec_can_change() {
    let mut ctx = loopback_ctx();
    let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    assert!(ctx.get_cloexec(fd).unwrap());
    let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    assert!(ctx.get_cloexec(a).unwrap() && ctx.get_cloexec(b).unwrap());
    let d = ctx.dup(fd).unwrap();
    assert_ne!(d, fd);
    assert!(ctx.get_cloexec(d).unwrap());
    ctx.set_cloexec(d, false).unwrap();
    assert!(!ctx.get_cloexec(d).unwrap());
    assert!(ctx.get_cloexec(fd).unwrap(), "FD_CLOEXEC is per fd");
    // O_NONBLOCK is per open file: shared with the dup.
    ctx.set_nonblocking(fd, true).unwrap();
    assert!(ctx.get_nonblocking(d).unwrap());
    let (l, port) = listener(&mut ctx);
    let c = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.connect(c, &loopback(port)).unwrap();
    let (acc, _) = ctx.accept(l, 0).unwrap();
    assert!(ctx.get_cloexec(acc).unwrap());
    assert!(!ctx.get_nonblocking(acc).unwrap());
    let c2 = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.connect(c2, &loopback(port)).unwrap();
    let (acc2, _) = ctx.accept(l, libc::SOCK_NONBLOCK).unwrap();
    assert!(ctx.get_cloexec(acc2).unwrap() && ctx.get_nonblocking(acc2).unwrap());
}

#[test]
fn unowned_fds_are_ebadf_even_stdio_and_other_stores() {
    let mut ctx = loopback_ctx();
    let mut other = loopback_ctx();
    let theirs = other.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    let host_file = std::fs::File::open("/proc/self/stat").unwrap();
    for fd in [0, 1, 2, -1, i32::MAX, theirs, host_file.as_raw_fd()] {
        assert_eq!(ctx.getsockname(fd), Err(libc::EBADF), "fd {fd}");
        assert_eq!(ctx.send(fd, b"x", 0), Err(libc::EBADF), "fd {fd}");
        assert_eq!(ctx.recv(fd, 1, 0), Err(libc::EBADF), "fd {fd}");
        assert_eq!(ctx.poll(fd, libc::POLLIN, 0), Err(libc::EBADF), "fd {fd}");
        assert_eq!(ctx.dup(fd), Err(libc::EBADF), "fd {fd}");
        assert_eq!(ctx.get_cloexec(fd), Err(libc::EBADF), "fd {fd}");
        assert_eq!(ctx.connect(fd, &loopback(1)), Err(libc::EBADF), "fd {fd}");
        assert_eq!(ctx.close(fd), Err(libc::EBADF), "fd {fd}");
    }
    // Nothing was closed behind their backs.
    assert!(other.get_cloexec(theirs).unwrap());
    assert!(rustix::io::fcntl_getfd(&host_file).is_ok());
    assert!(rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(2) }).is_ok());
}

#[test]
fn close_removes_the_fd_even_when_close_fails() {
    let fail_close = Arc::new(AtomicUsize::new(0));
    let flag = fail_close.clone();
    let mut ctx = NativesockCtx::builder()
        .fault_injector(move |call| {
            (call == Call::Close && flag.load(Ordering::SeqCst) == 1).then_some(libc::EIO)
        })
        .build();
    let fd = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    assert!(ctx.owns_fd(fd));
    ctx.close(fd).unwrap();
    assert!(!ctx.owns_fd(fd));
    assert_eq!(ctx.close(fd), Err(libc::EBADF));
    let fd = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    fail_close.store(1, Ordering::SeqCst);
    assert_eq!(ctx.close(fd), Err(libc::EIO));
    assert!(!ctx.owns_fd(fd));
    assert_eq!(ctx.getsockname(fd), Err(libc::EBADF));
}

#[test]
fn dropping_the_ctx_closes_every_fd_it_owns() {
    use std::io::Read;
    let (granted, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut ctx = loopback_ctx();
    let g = ctx.grant_fd(granted.into());
    ctx.dup(g).unwrap();
    let (_l, port) = listener(&mut ctx);
    drop(ctx);
    // Both the granted fd and its dup are closed: the peer sees end of stream.
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(peer.read(&mut [0; 1]).unwrap(), 0);
    // The listener is closed: its port refuses connections.
    let refused = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::ECONNREFUSED));
}

/// Counts `/proc/self/fd` around a context's life. Other tests open fds
/// concurrently, so this runs alone in a child process (see the next test).
#[test]
#[ignore = "run alone in a child process by `dropping_the_ctx_leaves_no_fd_open`"]
fn fd_count_child() {
    let before = open_fds();
    let granted = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut ctx = NativesockCtx::builder()
        .allow_connect(rule("127.0.0.1"))
        .allow_bind(rule("127.0.0.1"))
        .grant_fd(granted.into())
        .build();
    for _ in 0..5 {
        ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    }
    let (a, _b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    ctx.dup(a).unwrap();
    let (_c, _d) = tcp_pair(&mut ctx);
    assert_eq!(open_fds(), before + 11);
    drop(ctx);
    assert_eq!(open_fds(), before);
}

#[test]
fn dropping_the_ctx_leaves_no_fd_open() {
    crate::test_support::run_alone("ctx::tests::fd_count_child", Duration::from_secs(60));
}

#[test]
fn granted_fds_are_usable_under_their_number() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let n = udp.as_raw_fd();
    let mut ctx = NativesockCtx::builder().grant_fd(udp.into()).build();
    assert!(ctx.owns_fd(n));
    assert_eq!(port_of(&ctx.getsockname(n).unwrap()), port);
    let taken = ctx.take_fd(n).unwrap();
    assert_eq!(ctx.getsockname(n), Err(libc::EBADF));
    assert_eq!(ctx.grant_fd(taken), n);
    assert!(ctx.owns_fd(n));
}

#[test]
fn send_and_recv_return_exact_bytes() {
    let mut ctx = loopback_ctx();
    let (c, a) = tcp_pair(&mut ctx);
    assert_eq!(ctx.send(c, b"hello", 0), Ok(5));
    assert_eq!(
        ctx.poll(a, libc::POLLIN, 5000).map(|r| r & libc::POLLIN),
        Ok(libc::POLLIN)
    );
    assert_eq!(ctx.recv(a, 3, libc::MSG_PEEK).unwrap(), b"hel");
    assert_eq!(ctx.recv(a, 1000, 0).unwrap(), b"hello");
    ctx.shutdown(c, libc::SHUT_WR).unwrap();
    assert_eq!(ctx.recv(a, 1000, 0).unwrap(), b"", "end of stream");
    assert_eq!(ctx.recv(a, 0, 0).unwrap(), b"");
    assert_eq!(ctx.recv(a, 10, libc::MSG_DONTWAIT).unwrap(), b"");
    assert_eq!(ctx.shutdown(c, 99), Err(libc::EINVAL));
    let (_c, a2) = tcp_pair(&mut ctx);
    assert_eq!(ctx.recv(a2, 10, libc::MSG_DONTWAIT), Err(libc::EAGAIN));
}

#[test]
fn recv_is_capped_per_call() {
    let mut ctx = NativesockCtx::builder()
        .allow_bind(rule("127.0.0.1"))
        .allow_connect(rule("127.0.0.1"))
        .allow_sendto(rule("127.0.0.1"))
        .max_recv_bytes(4)
        .build();
    let (c, a) = tcp_pair(&mut ctx);
    ctx.send(c, b"0123456789", 0).unwrap();
    ctx.poll(a, libc::POLLIN, 5000).unwrap();
    assert_eq!(ctx.recv(a, u32::MAX, 0).unwrap(), b"0123");
    assert_eq!(ctx.recv(a, 2, 0).unwrap(), b"45");
    let (data, _) = ctx.recvfrom(a, u32::MAX, 0).unwrap();
    assert_eq!(data, b"6789");
    // The cap never cuts a datagram: the host sizes the buffer from it.
    let u = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    ctx.bind(u, &loopback(0)).unwrap();
    let to = ctx.getsockname(u).unwrap();
    ctx.sendto(u, b"abcdefgh", 0, &to).unwrap();
    ctx.poll(u, libc::POLLIN, 5000).unwrap();
    let (data, from) = ctx.recvfrom(u, 100, 0).unwrap();
    assert_eq!(data, b"abcdefgh");
    assert_eq!(from, to);
    // A datagram longer than the guest's own buffer is truncated, and
    // MSG_TRUNC's longer count never exposes bytes that were not written.
    ctx.sendto(u, b"abcdefgh", 0, &to).unwrap();
    let (data, _) = ctx.recvfrom(u, 4, libc::MSG_TRUNC).unwrap();
    assert_eq!(data, b"abcd");
    ctx.sendto(u, b"abcdefgh", 0, &to).unwrap();
    let msg = ctx.recvmsg(u, 2, 0, libc::MSG_TRUNC).unwrap();
    assert_eq!((msg.data.as_slice(), msg.length), (&b"ab"[..], 8));
    assert_eq!(msg.flags & libc::MSG_CMSG_CLOEXEC, 0);
}

#[test]
fn send_to_a_closed_stream_is_epipe_not_sigpipe() {
    let mut ctx = loopback_ctx();
    let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    ctx.close(b).unwrap();
    // Without MSG_NOSIGNAL this would kill the test process.
    assert_eq!(ctx.send(a, b"x", 0), Err(libc::EPIPE));
    let (c, d) = tcp_pair(&mut ctx);
    ctx.close(d).unwrap();
    ctx.shutdown(c, libc::SHUT_WR).unwrap();
    assert_eq!(ctx.send(c, b"x", 0), Err(libc::EPIPE));
}

#[test]
fn sendmsg_is_checked_like_sendto_and_scm_rights_like_fds() {
    let mut ctx = NativesockCtx::builder()
        .allow_bind(rule("127.0.0.1"))
        .allow_sendto(rule("127.0.0.1:1-2"))
        .build();
    let u = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    ctx.bind(u, &loopback(0)).unwrap();
    let me = ctx.getsockname(u).unwrap();
    // Its own port is not granted: no datagram leaves.
    assert_eq!(
        ctx.sendmsg(u, &[b"x".as_slice()], &[], 0, Some(&me)),
        Err(libc::EACCES)
    );
    assert_eq!(
        ctx.sendmsg(u, &[b"x".as_slice()], &[], 0, None),
        Err(libc::EDESTADDRREQ)
    );

    let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    let rights = |fd: RawFd| sys::Cmsg {
        level: libc::SOL_SOCKET,
        kind: libc::SCM_RIGHTS,
        data: fd.to_ne_bytes().to_vec(),
    };
    let stdout = std::io::stdout().as_raw_fd();
    assert_eq!(
        ctx.sendmsg(a, &[b"x".as_slice()], &[rights(stdout)], 0, None),
        Err(libc::EBADF),
        "the host's own fds cannot be passed"
    );
    assert_eq!(
        ctx.sendmsg(a, &[b"fd".as_slice()], &[rights(u)], 0, None),
        Ok(2)
    );
    let msg = ctx.recvmsg(b, 10, 64, 0).unwrap();
    assert_eq!(msg.flags, 0, "MSG_CMSG_CLOEXEC is the host's, not reported");
    let fds: Vec<RawFd> = sys::scm_rights_fds(&msg.ancillary[0].data).collect();
    assert_eq!(fds.len(), 1);
    assert!(ctx.owns_fd(fds[0]), "a received fd is the store's");
    assert_eq!(ctx.get_cloexec(fds[0]), Ok(true));
    assert_eq!(ctx.getsockname(fds[0]).unwrap(), me);
}

#[test]
fn udp_and_ipv6_round_trip() {
    let mut ctx = loopback_ctx();
    let u = ctx.socket(libc::AF_INET6, libc::SOCK_DGRAM, 0).unwrap();
    match ctx.bind(u, &loopback6(0)) {
        Ok(()) => {}
        // A host without IPv6 loopback cannot run this part.
        Err(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT) => return,
        Err(e) => panic!("bind ::1: errno {e}"),
    }
    let me = ctx.getsockname(u).unwrap();
    assert!(matches!(&me, SockAddr::Inet6(a) if *a.ip() == Ipv6Addr::LOCALHOST));
    assert_eq!(ctx.sendto(u, b"ping", 0, &me), Ok(4));
    ctx.poll(u, libc::POLLIN, 5000).unwrap();
    assert_eq!(
        ctx.recvfrom(u, 100, 0).unwrap(),
        (b"ping".to_vec(), me.clone())
    );
    ctx.connect(u, &me).unwrap();
    assert_eq!(ctx.getpeername(u).unwrap(), me);
    assert_eq!(ctx.send(u, b"pong", 0), Ok(4));
    ctx.poll(u, libc::POLLIN, 5000).unwrap();
    assert_eq!(ctx.recv(u, 100, 0).unwrap(), b"pong");
}

#[test]
fn unix_sockets_in_a_granted_dir() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut ctx = NativesockCtx::builder().allow_unix_dir(dir.path()).build();
    let addr = SockAddr::Unix(path.as_os_str().as_encoded_bytes().to_vec());
    let l = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    ctx.bind(l, &addr).unwrap();
    ctx.listen(l, 1).unwrap();
    // The kernel reports the path with its NUL: addrlen - 2 bytes.
    let mut reported = path.as_os_str().as_encoded_bytes().to_vec();
    reported.push(0);
    assert_eq!(
        ctx.getsockname(l).unwrap(),
        SockAddr::Unix(reported.clone())
    );
    let c = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    ctx.connect(c, &addr).unwrap();
    let (a, peer) = ctx.accept(l, 0).unwrap();
    assert_eq!(peer, SockAddr::Unix(Vec::new()), "an unnamed peer");
    assert_eq!(ctx.getpeername(c).unwrap(), SockAddr::Unix(reported));
    ctx.send(c, b"hi", 0).unwrap();
    assert_eq!(ctx.recv(a, 10, 0).unwrap(), b"hi");

    // Outside the grant, and escapes through `..`, are EACCES.
    let s = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    let escape = dir.path().join("../escape-from-grant");
    assert_eq!(
        ctx.bind(
            s,
            &SockAddr::Unix(escape.as_os_str().as_encoded_bytes().to_vec())
        ),
        Err(libc::EACCES)
    );
    assert_eq!(
        ctx.connect(s, &SockAddr::Unix(b"/run/x".to_vec())),
        Err(libc::EACCES)
    );
    // Abstract names and autobind need their own grant.
    assert_eq!(
        ctx.bind(s, &SockAddr::Unix(b"\0ns-test".to_vec())),
        Err(libc::EACCES)
    );
    assert_eq!(ctx.bind(s, &SockAddr::Unix(Vec::new())), Err(libc::EACCES));
    assert_eq!(ctx.listen(s, 1), Err(libc::EACCES), "listen would autobind");
    // A path longer than sun_path is EINVAL.
    let long = dir.path().join("x".repeat(200));
    assert_eq!(
        ctx.bind(
            s,
            &SockAddr::Unix(long.as_os_str().as_encoded_bytes().to_vec())
        ),
        Err(libc::EINVAL)
    );
}

#[test]
fn abstract_unix_names_when_granted() {
    let mut ctx = NativesockCtx::builder().allow_abstract_unix(true).build();
    let s = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    ctx.bind(s, &SockAddr::Unix(Vec::new())).unwrap();
    let SockAddr::Unix(name) = ctx.getsockname(s).unwrap() else {
        panic!("not a unix address");
    };
    // Autobind picks a NUL and five hex digits.
    assert_eq!(name.len(), 6);
    assert_eq!(name[0], 0);
    let c = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    ctx.sendto(c, b"dgram", 0, &SockAddr::Unix(name.clone()))
        .unwrap();
    assert_eq!(ctx.recv(s, 100, 0).unwrap(), b"dgram");
    let u = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    let mut exact = b"\0nativesock-test-".to_vec();
    exact.extend_from_slice(std::process::id().to_string().as_bytes());
    ctx.bind(u, &SockAddr::Unix(exact.clone())).unwrap();
    assert_eq!(ctx.getsockname(u).unwrap(), SockAddr::Unix(exact));
}

#[test]
fn policy_is_enforced_at_each_call() {
    let mut ctx = NativesockCtx::builder()
        .allow_connect(rule("127.0.0.1:1-1023"))
        .allow_bind(rule("127.0.0.2"))
        .build();
    let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    assert_eq!(ctx.bind(fd, &loopback(0)), Err(libc::EACCES));
    assert_eq!(ctx.connect(fd, &loopback(8080)), Err(libc::EACCES));
    assert_eq!(
        ctx.listen(fd, 1),
        Err(libc::EACCES),
        "listen would bind 0.0.0.0"
    );
    // A stream socket's sendto needs a connect grant (TCP Fast Open).
    assert_eq!(ctx.sendto(fd, b"x", 0, &loopback(8080)), Err(libc::EACCES));
    ctx.bind(
        fd,
        &SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 0)),
    )
    .unwrap();
    ctx.listen(fd, 1).unwrap();
    let u = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    assert_eq!(ctx.sendto(u, b"x", 0, &loopback(9)), Err(libc::EACCES));
    let s6 = ctx.socket(libc::AF_INET6, libc::SOCK_STREAM, 0).unwrap();
    let mapped = SockAddr::Inet6(SocketAddrV6::new(
        Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped(),
        80,
        0,
        0,
    ));
    assert_eq!(ctx.connect(s6, &mapped), Err(libc::EACCES));
    assert_eq!(
        ctx.socket(libc::AF_PACKET, libc::SOCK_RAW, 0),
        Err(libc::EACCES)
    );
    assert_eq!(
        ctx.socket(libc::AF_INET, libc::SOCK_RAW, 1),
        Err(libc::EACCES)
    );
    assert_eq!(
        ctx.bind(u, &SockAddr::Other(libc::AF_PACKET, vec![0; 10])),
        Err(libc::EACCES)
    );
}

#[test]
fn name_lookup_needs_a_grant_but_numeric_hosts_do_not() {
    let mut ctx = NativesockCtx::builder().build();
    let res = ctx
        .getaddrinfo(
            Some("127.0.0.1"),
            Some("80"),
            libc::AF_INET,
            libc::SOCK_STREAM,
            0,
            0,
        )
        .unwrap();
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].address, loopback(80));
    assert_eq!(res[0].socket_type, libc::SOCK_STREAM);
    let err = ctx
        .getaddrinfo(Some("localhost"), None, 0, libc::SOCK_STREAM, 0, 0)
        .unwrap_err();
    assert_eq!(err.code, libc::EAI_SYSTEM);
    assert_eq!(err.errno, Some(libc::EACCES));
    assert_eq!(err.message, "Permission denied");
    // A NULL host needs no lookup.
    let res = ctx
        .getaddrinfo(
            None,
            Some("0"),
            libc::AF_INET,
            libc::SOCK_DGRAM,
            0,
            libc::AI_PASSIVE,
        )
        .unwrap();
    assert_eq!(
        res[0].address,
        SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
    );
    // Other errors come through unchanged.
    let err = ctx
        .getaddrinfo(Some("127.0.0.1"), Some("80"), libc::AF_INET, 12345, 0, 0)
        .unwrap_err();
    assert_eq!(err.code, libc::EAI_SOCKTYPE);
    assert_eq!(err.message, "ai_socktype not supported");
    let err = ctx.getnameinfo(&loopback(80), 0).unwrap_err();
    assert_eq!(err.errno, Some(libc::EACCES));
    let (host, serv) = ctx
        .getnameinfo(&loopback(80), libc::NI_NUMERICHOST | libc::NI_NUMERICSERV)
        .unwrap();
    assert_eq!((host.as_str(), serv.as_str()), ("127.0.0.1", "80"));

    let mut ctx = NativesockCtx::builder().allow_name_lookup(true).build();
    let (host, _) = ctx
        .getnameinfo(&loopback(80), libc::NI_NUMERICHOST)
        .unwrap();
    assert_eq!(host, "127.0.0.1");
    let res = ctx.getaddrinfo(Some("::1"), None, libc::AF_INET6, libc::SOCK_STREAM, 0, 0);
    assert_eq!(res.unwrap()[0].address, loopback6(0));
}

#[test]
fn fault_injector_fails_the_named_call_without_making_it() {
    let mut ctx = NativesockCtx::builder()
        .allow_connect(rule("127.0.0.1"))
        .allow_bind(rule("127.0.0.1"))
        .fault_injector(|call| match call {
            Call::Connect | Call::Poll => Some(libc::EINTR),
            Call::Getaddrinfo => Some(libc::EAI_AGAIN),
            _ => None,
        })
        .build();
    let (l, port) = listener(&mut ctx);
    let c = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    assert_eq!(ctx.connect(c, &loopback(port)), Err(libc::EINTR));
    assert_eq!(ctx.poll(l, libc::POLLIN, -1), Err(libc::EINTR));
    // The connect never happened: nothing to accept.
    ctx.set_nonblocking(l, true).unwrap();
    assert_eq!(ctx.accept(l, 0).map(|_| ()), Err(libc::EAGAIN));
    let err = ctx.getaddrinfo(None, Some("80"), 0, 0, 0, 0).unwrap_err();
    assert_eq!((err.code, err.errno), (libc::EAI_AGAIN, None));
    // Ownership and policy come first.
    assert_eq!(ctx.connect(0, &loopback(port)), Err(libc::EBADF));
    assert_eq!(ctx.connect(c, &loopback6(port)), Err(libc::EACCES));
}

#[test]
fn poll_waits_at_most_its_timeout() {
    let mut ctx = loopback_ctx();
    let (_c, a) = tcp_pair(&mut ctx);
    let start = Instant::now();
    assert_eq!(ctx.poll(a, libc::POLLIN, 50), Ok(0));
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(45) && waited < Duration::from_secs(5));
    assert_eq!(
        ctx.poll(a, libc::POLLOUT, 0).map(|r| r & libc::POLLOUT),
        Ok(libc::POLLOUT)
    );
}

#[test]
fn poll_fds_reports_each_fd_and_marks_foreign_ones_invalid() {
    let mut ctx = loopback_ctx();
    let (c, a) = tcp_pair(&mut ctx);
    // Nothing to read: the whole timeout passes, every revents is 0.
    let start = Instant::now();
    assert_eq!(
        ctx.poll_fds(&[(a, libc::POLLIN), (c, libc::POLLIN)], 50),
        Ok(vec![0, 0])
    );
    assert!(start.elapsed() >= Duration::from_millis(45));
    ctx.send(c, b"x", 0).unwrap();
    let got = ctx
        .poll_fds(
            &[(a, libc::POLLIN), (-1, libc::POLLIN), (c, libc::POLLOUT)],
            5000,
        )
        .unwrap();
    assert_eq!(got, [libc::POLLIN, 0, libc::POLLOUT]);
    // An fd open in this process but not the store's is POLLNVAL, and
    // it does not make the call wait.
    let foreign = std::fs::File::open("/dev/null").unwrap();
    let start = Instant::now();
    let got = ctx
        .poll_fds(
            &[(foreign.as_raw_fd(), libc::POLLIN), (c, libc::POLLIN)],
            10_000,
        )
        .unwrap();
    assert_eq!(got, [libc::POLLNVAL, 0]);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(ctx.poll_fds(&[], 0), Ok(vec![]));
}

#[test]
fn poll_fds_waits_at_most_the_blocking_cap() {
    let mut ctx = NativesockCtx::builder()
        .allow_connect(rule("127.0.0.0/8"))
        .allow_bind(rule("127.0.0.0/8"))
        .max_blocking_time(Some(Duration::from_millis(50)))
        .build();
    let (_c, a) = tcp_pair(&mut ctx);
    assert_eq!(ctx.poll_fds(&[(a, libc::POLLIN)], -1), Err(libc::ETIMEDOUT));
    // Under the cap, a timeout is a timeout.
    assert_eq!(ctx.poll_fds(&[(a, libc::POLLIN)], 10), Ok(vec![0]));
}

#[test]
fn poll_returns_eintr_when_a_signal_arrives() {
    use std::sync::atomic::AtomicBool;
    extern "C" fn on_signal(_: libc::c_int) {}
    // SIGUSR2 with a handler and no SA_RESTART, as the CLI installs SIGINT.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        assert_eq!(libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut()), 0);
    }
    let mut ctx = loopback_ctx();
    let (_c, a) = tcp_pair(&mut ctx);
    let me = unsafe { libc::pthread_self() };
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let kicker = std::thread::spawn(move || {
        // Keep signalling until the poll has returned (bounded).
        for _ in 0..200 {
            if done2.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
            unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
        }
    });
    let res = ctx.poll(a, libc::POLLIN, 10_000);
    done.store(true, Ordering::SeqCst);
    kicker.join().unwrap();
    assert_eq!(res, Err(libc::EINTR));
}

/// The guest asks once whether to build audit events at all.
#[test]
fn audit_hooked_says_whether_a_hook_is_installed() {
    assert!(!NativesockCtx::builder().build().audit_hooked());
    assert!(
        NativesockCtx::builder()
            .audit_hook(|_| Ok(()))
            .build()
            .audit_hooked()
    );
}

#[test]
fn hooks_see_events_and_the_first_denial_wins() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (s1, s2) = (seen.clone(), seen.clone());
    let mut ctx = NativesockCtx::builder()
        .audit_hook(move |e| {
            s1.lock().unwrap().push(format!("1:{}", e.name));
            Ok(())
        })
        .audit_hook(|e| match e.name.as_str() {
            "socket.connect" => Err(Raised::new("PermissionError", "no connect")),
            _ => Ok(()),
        })
        .audit_hook(move |e| {
            s2.lock().unwrap().push(format!("3:{}", e.name));
            Err(Raised::new("RuntimeError", "third"))
        })
        .signal_check(|| Err(Raised::keyboard_interrupt()))
        .build();
    let event = |name: &str| AuditEvent {
        name: name.into(),
        args: Vec::new(),
    };
    assert_eq!(
        ctx.audit(&event("socket.connect")),
        Err(Raised::new("PermissionError", "no connect"))
    );
    assert_eq!(
        ctx.audit(&event("socket.bind")),
        Err(Raised::new("RuntimeError", "third"))
    );
    assert_eq!(
        *seen.lock().unwrap(),
        ["1:socket.connect", "1:socket.bind", "3:socket.bind"]
    );
    assert_eq!(ctx.check_signals(), Err(Raised::keyboard_interrupt()));

    let mut plain = NativesockCtx::builder().build();
    assert_eq!(plain.audit(&event("socket.connect")), Ok(()));
    assert_eq!(plain.check_signals(), Ok(()));
}

#[test]
fn sockopts_use_any_level_and_length() {
    let mut ctx = loopback_ctx();
    let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    ctx.setsockopt(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        &1i32.to_ne_bytes(),
    )
    .unwrap();
    let v = ctx
        .getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 4)
        .unwrap();
    assert_eq!(i32::from_ne_bytes(v.try_into().unwrap()), 1);
    let v = ctx
        .getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, 4)
        .unwrap();
    assert_eq!(i32::from_ne_bytes(v.try_into().unwrap()), libc::SOCK_STREAM);
    // A larger buffer than the option: only what the kernel wrote.
    let v = ctx
        .getsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, 64)
        .unwrap();
    assert_eq!(v.len(), std::mem::size_of::<libc::linger>());
    // A huge length is capped, not allocated.
    let v = ctx
        .getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, u32::MAX)
        .unwrap();
    assert!(!v.is_empty() && v.len() <= MAX_SOCKOPT_LEN);
    // An option no kernel has: the kernel's answer, without asking it.
    assert_eq!(
        ctx.setsockopt(fd, libc::SOL_SOCKET, 12345, &[0; 4]),
        Err(libc::ENOPROTOOPT)
    );
    assert_eq!(
        ctx.getsockopt(fd, libc::SOL_SOCKET, 12345, 4),
        Err(libc::ENOPROTOOPT)
    );
    assert_eq!(
        ctx.setsockopt_null(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 4),
        Err(libc::EFAULT)
    );
}

#[test]
fn socketpair_creates_two_owned_fds() {
    let mut ctx = NativesockCtx::builder().build();
    let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    assert!(ctx.owns_fd(a) && ctx.owns_fd(b));
    ctx.send(a, b"x", 0).unwrap();
    assert_eq!(ctx.recv(b, 10, 0).unwrap(), b"x");
    assert_eq!(
        ctx.socketpair(libc::AF_INET, libc::SOCK_STREAM, 0),
        Err(libc::EOPNOTSUPP)
    );
}

#[test]
fn a_number_reused_behind_the_stores_back_is_not_double_closed() {
    use std::os::fd::FromRawFd;
    let mut ctx = NativesockCtx::builder().build();
    let n = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    // Someone replaces fd `n` under the store (dup2 closes the old one
    // atomically), and the number comes back to the store as a new fd.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(unsafe { libc::dup2(udp.as_raw_fd(), n) }, n);
    // SAFETY: `n` is the dup2'd copy, which nobody else owns.
    ctx.grant_fd(unsafe { OwnedFd::from_raw_fd(n) });
    // The stale entry was not closed: `n` is still the UDP socket.
    assert!(matches!(ctx.getsockname(n), Ok(SockAddr::Inet(_))));
    ctx.close(n).unwrap();
}
