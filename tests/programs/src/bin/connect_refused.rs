//! A connect to a port that nobody listens on is refused, in blocking mode
//! straight from the syscall and in timeout mode through poll + `SO_ERROR`.

use nativesock_test_programs::*;
use std::time::Instant;

const REFUSED: &str = "[Errno 111] Connection refused";

fn main() {
    let (_bound, port) = refusing_port();
    let addr = inet("127.0.0.1", port);

    let err = assert_raises(
        tcp().connect(&addr),
        "ConnectionRefusedError",
        Some(111),
        REFUSED,
    );
    assert_eq!(err.strerror.as_deref(), Some("Connection refused"));
    assert_eq!(tcp().connect_ex(&addr), Ok(111));
    println!("blocking: connect -> ConnectionRefusedError 111, connect_ex -> 111");

    let s = tcp();
    s.settimeout(&float(5.0)).expect("settimeout(5.0)");
    let start = Instant::now();
    assert_raises(
        s.connect(&addr),
        "ConnectionRefusedError",
        Some(111),
        REFUSED,
    );
    assert_took("refused timeout-mode connect", elapsed(start), 0.0, 1.0);
    let s = tcp();
    s.settimeout(&float(5.0)).expect("settimeout(5.0)");
    assert_eq!(s.connect_ex(&addr), Ok(111));
    println!("timeout mode: connect -> ConnectionRefusedError 111, connect_ex -> 111");

    assert_raises(
        s.getpeername(),
        "OSError",
        Some(107),
        "[Errno 107] Transport endpoint is not connected",
    );
}
