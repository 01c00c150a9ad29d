//! One of the many stores of `host/tests/async_embed.rs`: wraps the socket
//! the host granted it (its fd is the first argument) and blocks in
//! `recv()` until the host's end writes, then prints what came.

use nativesock_test_programs::*;

fn main() {
    let fd: i64 = args()
        .first()
        .and_then(|a| a.parse().ok())
        .expect("the granted fd as the first argument");
    let sock = Socket::create(None, None, None, Some(&int(fd))).expect("socket(fileno=fd)");
    assert_eq!(sock.gettimeout(), None, "a blocking socket");
    let got = sock.recv(&int(64), None).expect("recv");
    println!("{}", String::from_utf8_lossy(&got));
}
