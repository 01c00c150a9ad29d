//! A hostile guest: it imports `nativesock:socket/native` directly, skipping
//! the semantics component, and walks every fd number up to the process's
//! limit (the first argument) plus a few odd ones, trying every call that
//! takes an fd. Any answer but `EBADF` for an fd it does not own is a
//! violation; it prints them all and exits 1 if there are any.
//!
//! It opens a few sockets of its own first (their numbers are skipped), and
//! also tries to pass foreign fds to itself with `SCM_RIGHTS`.

wit_bindgen::generate!({
    path: "../../wit",
    world: "host",
});

use nativesock::socket::native::{self as n, CmsgHeader, InetAddress, Sockaddr};

const EBADF: i32 = 9;

/// A result, its value shown.
fn s<T: std::fmt::Debug>(r: Result<T, i32>) -> Result<String, i32> {
    r.map(|v| format!("{v:?}"))
}

fn main() {
    let limit: i32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("the fd limit");
    let c = |name: &str| -> i32 {
        n::constants()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v as i32)
            .unwrap_or_else(|| panic!("no constant {name}"))
    };
    let (af_inet, af_unix, stream, dgram) = (
        c("AF_INET"),
        c("AF_UNIX"),
        c("SOCK_STREAM"),
        c("SOCK_DGRAM"),
    );
    let (sol_socket, so_type, scm_rights) = (c("SOL_SOCKET"), c("SO_TYPE"), c("SCM_RIGHTS"));
    // Our own: a listener, a datagram socket, a pair.
    let listener = n::socket(af_inet, stream, 0).expect("socket");
    let dgram_fd = n::socket(af_inet, dgram, 0).expect("socket");
    let (p, q) = n::socketpair(af_unix, stream, 0).expect("socketpair");
    let own = [listener, dgram_fd, p, q];
    let loopback = Sockaddr::Inet(InetAddress {
        addr: (127, 0, 0, 1),
        port: 9,
    });

    let mut numbers: Vec<i32> = (0..limit).collect();
    numbers.extend([-1, -2, i32::MIN, i32::MAX, limit, limit + 1, 1 << 20]);
    let mut calls = 0u64;
    let mut violations = Vec::new();
    let mut check = |fd: i32, call: &str, result: Result<String, i32>| {
        calls += 1;
        if result != Err(EBADF) {
            violations.push(format!("violation fd {fd} {call} -> {result:?}"));
        }
    };
    for &fd in &numbers {
        if own.contains(&fd) {
            continue;
        }
        check(fd, "getsockname", s(n::getsockname(fd)));
        check(fd, "getpeername", s(n::getpeername(fd)));
        check(
            fd,
            "getsockopt",
            s(n::getsockopt(fd, sol_socket, so_type, 4)),
        );
        check(
            fd,
            "setsockopt",
            s(n::setsockopt(fd, sol_socket, so_type, &1i32.to_ne_bytes())),
        );
        check(fd, "get-cloexec", s(n::get_cloexec(fd)));
        check(fd, "set-cloexec", s(n::set_cloexec(fd, false)));
        check(fd, "get-nonblocking", s(n::get_nonblocking(fd)));
        check(fd, "set-nonblocking", s(n::set_nonblocking(fd, true)));
        check(fd, "poll", s(n::poll(fd, 1, 0)));
        check(fd, "send", s(n::send(fd, b"x", 0)));
        check(fd, "sendto", s(n::sendto(fd, b"x", 0, &loopback)));
        check(fd, "recv", s(n::recv(fd, 1, 0)));
        check(fd, "recvfrom", s(n::recvfrom(fd, 1, 0)));
        check(fd, "shutdown", s(n::shutdown(fd, 2)));
        check(fd, "listen", s(n::listen(fd, 1)));
        check(fd, "accept", s(n::accept(fd, 0)));
        check(fd, "connect", s(n::connect(fd, &loopback)));
        check(fd, "bind", s(n::bind(fd, &loopback)));
        check(fd, "dup", s(n::dup(fd)));
        check(fd, "close", s(n::close(fd)));
        // Pass the foreign fd to ourselves over our own pair.
        let rights = CmsgHeader {
            level: sol_socket,
            kind: scm_rights,
            length: 4,
        };
        check(
            fd,
            "sendmsg(SCM_RIGHTS)",
            s(n::sendmsg(
                p,
                b"x",
                &[1],
                &[rights],
                &fd.to_ne_bytes(),
                0,
                None,
            )),
        );
    }
    // Our own fds still work.
    for fd in own {
        n::get_cloexec(fd).expect("an own fd is still open");
    }
    for v in &violations {
        println!("{v}");
    }
    println!(
        "walked {} fds, {calls} calls, {} violations",
        numbers.len(),
        violations.len()
    );
    std::process::exit(i32::from(!violations.is_empty()));
}
