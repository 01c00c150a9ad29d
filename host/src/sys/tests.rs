//! Tests of the native layer.

use super::*;

#[test]
fn sendmsg_recvmsg_carry_buffers_fds_and_true_lengths() {
    use std::os::fd::AsFd;
    let (a, b) = socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
    let (x, _y) = socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    let rights = Cmsg {
        level: libc::SOL_SOCKET,
        kind: libc::SCM_RIGHTS,
        data: x.as_raw_fd().to_ne_bytes().to_vec(),
    };
    let sent = sendmsg(
        a.as_fd(),
        &[b"01234".as_slice(), b"56789".as_slice()],
        &[&rights],
        0,
        None,
    )
    .unwrap();
    assert_eq!(sent, 10);
    assert_eq!(next_message_len(b.as_fd(), 0).unwrap(), 10);
    let msg = recvmsg(b.as_fd(), 4, 64, libc::MSG_TRUNC | libc::MSG_CMSG_CLOEXEC).unwrap();
    assert_eq!((msg.data.as_slice(), msg.length), (&b"0123"[..], 10));
    assert_ne!(msg.flags & libc::MSG_TRUNC, 0);
    assert_eq!(msg.address, SockAddr::Unspec);
    assert_eq!(msg.ancillary.len(), 1);
    let fds: Vec<RawFd> = scm_rights_fds(&msg.ancillary[0].data).collect();
    assert_eq!(fds.len(), 1);
    let got = adopt_fd(fds[0]);
    assert!(get_cloexec(got.as_fd()).unwrap());
    assert_eq!(
        getsockopt(got.as_fd(), libc::SOL_SOCKET, libc::SO_TYPE, 4).unwrap(),
        libc::SOCK_STREAM.to_ne_bytes()
    );
}

#[test]
fn host_and_service_databases() {
    let h = gethostbyname("127.0.0.1").unwrap();
    assert_eq!(h.name, "127.0.0.1");
    assert_eq!(
        h.addresses,
        [SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))]
    );
    assert_eq!(
        gethostbyaddr(&SockAddr::Unix(vec![])).unwrap_err(),
        HostError::errno(libc::EAFNOSUPPORT)
    );
    assert_eq!(getservbyname("nosuchservice", None), None);
    assert_eq!(getservbyport(0xfffe, Some("nosuchproto")), None);
    if let Some(port) = getservbyname("http", Some("tcp")) {
        assert_eq!(port, 80);
        assert_eq!(getservbyport(80, Some("tcp")).as_deref(), Some("http"));
    }
}

#[test]
fn misc_calls() {
    assert!(!gethostname().unwrap().is_empty());
    assert_eq!(strerror(libc::ECONNREFUSED), "Connection refused");
    assert_eq!(strerror(libc::EINPROGRESS), "Operation now in progress");
    assert_eq!(strerror(99999), "Unknown error 99999");
    let a = monotonic_ns();
    let b = monotonic_ns();
    assert!(b >= a && a > 0);
}

#[test]
fn constants_hold_the_host_values() {
    let get = |name: &str| {
        CONSTANTS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(get("AF_INET"), 2);
    for (name, value) in CONSTANTS {
        assert_eq!(constant(name), Some(*value), "{name}");
    }
    assert_eq!(constant("AF_NO_SUCH_FAMILY"), None);
    assert_eq!(get("AF_INET6"), 10);
    assert_eq!(get("SOCK_NONBLOCK"), 0o4000);
    assert_eq!(get("ECONNREFUSED"), 111);
    assert_eq!(get("EWOULDBLOCK"), get("EAGAIN"));
    assert_eq!(get("EDEADLOCK"), get("EDEADLK"));
    assert_eq!(get("ENOTSUP"), get("EOPNOTSUPP"));
    assert_eq!(get("EAI_NONAME"), -2);
    assert_eq!(get("EAI_SYSTEM"), -11);
    assert_eq!(get("EAI_ADDRFAMILY"), -9);
    assert_eq!(get("NI_MAXHOST"), 1025);
    assert_eq!(get("NI_MAXSERV"), 32);
    assert_eq!(get("INADDR_NONE"), 0xffff_ffff);
    assert_eq!(get("INADDR_LOOPBACK"), 0x7f00_0001);
    assert_eq!(get("SOMAXCONN"), 4096);
    assert_eq!(get("MSG_NOSIGNAL"), 0x4000);
    assert_eq!(get("POLLOUT"), 4);
    assert_eq!(get("TCP_NODELAY"), 1);
    assert_eq!(get("IPV6_JOIN_GROUP"), 20);
    // Every name once, and every errno the C library names has its text.
    let mut names: Vec<_> = CONSTANTS.iter().map(|(n, _)| *n).collect();
    names.sort();
    let len = names.len();
    names.dedup();
    assert_eq!(names.len(), len, "duplicate names");
    for (name, value) in CONSTANTS {
        if name.starts_with('E') && !name.starts_with("EAI_") {
            let errno = i32::try_from(*value).unwrap();
            assert!(!strerror(errno).starts_with("Unknown error"), "{name}");
        }
    }
}

#[test]
fn sockaddr_encoding_follows_the_kernel_rules() {
    let raw = SockAddr::Unix(b"/tmp/x".to_vec()).to_raw().unwrap();
    assert_eq!(raw.len as usize, 2 + 6 + 1);
    let raw = SockAddr::Unix(b"\0abc".to_vec()).to_raw().unwrap();
    assert_eq!(raw.len as usize, 2 + 4);
    let raw = SockAddr::Unix(Vec::new()).to_raw().unwrap();
    assert_eq!(raw.len as usize, 2);
    assert!(SockAddr::Unix(vec![b'a'; 107]).to_raw().is_ok());
    assert_eq!(
        SockAddr::Unix(vec![b'a'; 108]).to_raw().err(),
        Some(libc::EINVAL)
    );
    assert!(
        SockAddr::Unix([&[0u8][..], &[b'a'; 107]].concat())
            .to_raw()
            .is_ok()
    );
    assert_eq!(
        SockAddr::Unix(vec![0; 109]).to_raw().err(),
        Some(libc::EINVAL)
    );
    assert_eq!(
        SockAddr::Other(70000, vec![]).to_raw().err(),
        Some(libc::EAFNOSUPPORT)
    );
    assert_eq!(
        SockAddr::Other(17, vec![0; 127]).to_raw().err(),
        Some(libc::EINVAL)
    );
    for addr in [
        SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080)),
        SockAddr::Inet6(SocketAddrV6::new(
            "fe80::1".parse().unwrap(),
            443,
            0x12345,
            7,
        )),
        SockAddr::Unix(b"\0abstract".to_vec()),
        SockAddr::Unix(Vec::new()),
        SockAddr::Other(libc::AF_PACKET, vec![1, 2, 3]),
    ] {
        let raw = addr.to_raw().unwrap();
        assert_eq!(SockAddr::from_raw(&raw), addr);
    }
    assert_eq!(
        SockAddr::from_raw(&SockAddr::Unspec.to_raw().unwrap()),
        SockAddr::Unspec
    );
    // A pathname comes back as the kernel reports it: with its NUL.
    let raw = SockAddr::Unix(b"/tmp/x".to_vec()).to_raw().unwrap();
    assert_eq!(
        SockAddr::from_raw(&raw),
        SockAddr::Unix(b"/tmp/x\0".to_vec())
    );
}
