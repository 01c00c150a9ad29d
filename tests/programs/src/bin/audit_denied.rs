//! An audit hook that raises on `socket.connect` stops the call before the
//! syscall: the exception is the hook's, for `connect` and `connect_ex`
//! alike, and the socket stays unconnected.
//!
//! The host test's hook raises `RuntimeError('socket.connect is not allowed')`.

use nativesock_test_programs::*;

const DENIED: &str = "socket.connect is not allowed";

fn main() {
    let (server, port) = listener(5);
    let addr = inet("127.0.0.1", port);
    let s = tcp();
    assert_raises(s.connect(&addr), "RuntimeError", None, DENIED);
    assert_raises(s.connect_ex(&addr), "RuntimeError", None, DENIED);
    println!("connect -> RuntimeError, connect_ex -> RuntimeError");

    assert_raises(
        s.getpeername(),
        "OSError",
        Some(107),
        "[Errno 107] Transport endpoint is not connected",
    );
    server
        .setblocking(&Value::Boolean(false))
        .expect("setblocking(False)");
    assert_raises(
        server.accept(),
        "BlockingIOError",
        Some(11),
        "[Errno 11] Resource temporarily unavailable",
    );
    println!("the socket is unconnected and nothing reached the listener");
}
