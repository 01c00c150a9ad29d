//! Errors the host injects surface as CPython's exceptions: `ENOBUFS` on
//! `send` is `OSError(105)`, `ECONNRESET` on `recv` is
//! `ConnectionResetError(104)`, neither retried.

use nativesock_test_programs::*;

fn main() {
    let (server, port) = listener(1);
    let client = tcp();
    client.connect(&inet("127.0.0.1", port)).expect("connect");
    let (peer, _) = server.accept().expect("accept");
    assert_raises(
        client.send(b"x", None),
        "OSError",
        Some(105),
        "[Errno 105] No buffer space available",
    );
    assert_raises(
        peer.recv(&int(10), None),
        "ConnectionResetError",
        Some(104),
        "[Errno 104] Connection reset by peer",
    );
    println!("ENOBUFS and ECONNRESET surfaced");
}
