//! A non-blocking connect whose syscall fails with `EINTR` raises
//! `InterruptedError` (and `connect_ex` returns 4): CPython waits for the
//! attempt only when the socket is not non-blocking.
//!
//! The host test injects `EINTR` into every `connect` syscall.

use nativesock_test_programs::*;

fn main() {
    let (_server, port) = listener(5);
    let addr = inet("127.0.0.1", port);

    let s = tcp();
    s.setblocking(&Value::Boolean(false))
        .expect("setblocking(False)");
    assert_raises(
        s.connect(&addr),
        "InterruptedError",
        Some(4),
        "[Errno 4] Interrupted system call",
    );
    assert_eq!(s.connect_ex(&addr), Ok(4));
    println!("connect -> InterruptedError 4, connect_ex -> 4");
}
