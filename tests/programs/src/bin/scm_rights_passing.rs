//! `sendmsg`/`recvmsg` with `SCM_RIGHTS`: a socket's fd passed over an
//! AF_UNIX pair arrives as a new fd the store owns (close-on-exec), usable
//! with `socket(fileno=fd)`; an fd the store does not own cannot be sent
//! (`EBADF`); a control buffer too small for the fd gives `MSG_CTRUNC`.

use nativesock_test_programs::nativesock::socket::socket::{self as ns, AncillaryItem};
use nativesock_test_programs::*;

fn c(name: &str) -> i64 {
    constant(name).unwrap_or_else(|| panic!("no constant {name}"))
}

fn rights(fd: i64) -> Vec<AncillaryItem> {
    vec![AncillaryItem {
        level: int(c("SOL_SOCKET")),
        kind: int(c("SCM_RIGHTS")),
        data: (fd as i32).to_ne_bytes().to_vec(),
    }]
}

fn main() {
    let (a, b) = ns::socketpair(Some(&int(c("AF_UNIX"))), None, None).expect("socketpair()");
    let (x, y) = ns::socketpair(None, None, None).expect("socketpair()");

    let sent = a
        .sendmsg(&[b"fd".to_vec()], &rights(x.fileno()), None, None)
        .expect("sendmsg with SCM_RIGHTS");
    assert_eq!(sent, 2);
    let msg = b.recvmsg(&int(10), Some(&int(64)), None).expect("recvmsg");
    assert_eq!(msg.data, b"fd");
    assert_eq!(msg.msg_flags, 0);
    assert_eq!(msg.ancdata.len(), 1, "{:?}", msg.ancdata);
    let item = &msg.ancdata[0];
    assert_eq!((item.level, item.kind), (c("SOL_SOCKET"), c("SCM_RIGHTS")));
    let fd = i64::from(i32::from_ne_bytes(item.data[..4].try_into().unwrap()));
    assert!(fd > 2 && fd != x.fileno(), "a new host fd: {fd}");
    println!("received fd {fd} for fd {}", x.fileno());

    let got = Socket::create(None, None, None, Some(&int(fd))).expect("socket(fileno=fd)");
    assert_eq!(
        (got.family(), got.type_()),
        (c("AF_UNIX"), c("SOCK_STREAM"))
    );
    assert!(
        !got.get_inheritable().unwrap(),
        "received fds are close-on-exec"
    );
    got.send(b"ping", None).unwrap();
    assert_eq!(y.recv(&int(10), None).unwrap(), b"ping");
    got.close().expect("the store owns the received fd");

    // `socket.dup(fd)`, the base of `socket.fromfd`: only the store's fds.
    let fd = ns::dup_fd(&int(x.fileno())).expect("dup(fd)");
    let again = Socket::create(
        Some(&int(c("AF_UNIX"))),
        Some(&int(c("SOCK_STREAM"))),
        None,
        Some(&int(fd)),
    )
    .expect("fromfd");
    assert!(!again.get_inheritable().unwrap());
    again.send(b"dup", None).unwrap();
    assert_eq!(y.recv(&int(10), None).unwrap(), b"dup");
    for bad in [-1, 0, 1000] {
        assert_raises(
            ns::dup_fd(&int(bad)),
            "OSError",
            Some(9),
            "[Errno 9] Bad file descriptor",
        );
    }
    println!("dup(fd) -> a new fd of the store");

    // Only the store's own fds can be passed.
    for fd in [0, 1, 2, 1000] {
        assert_raises(
            a.sendmsg(&[b"x".to_vec()], &rights(fd), None, None),
            "OSError",
            Some(9),
            "[Errno 9] Bad file descriptor",
        );
    }
    println!("unowned fds -> EBADF");

    // A control buffer too small for the fd: MSG_CTRUNC, no item, no fd.
    a.sendmsg(&[b"t".to_vec()], &rights(x.fileno()), None, None)
        .unwrap();
    let msg = b.recvmsg(&int(10), Some(&int(1)), None).expect("recvmsg");
    assert_eq!(msg.data, b"t");
    assert_ne!(msg.msg_flags & c("MSG_CTRUNC"), 0, "{msg:?}");
    assert!(msg.ancdata.is_empty(), "{:?}", msg.ancdata);
    println!("small control buffer -> MSG_CTRUNC");
}
