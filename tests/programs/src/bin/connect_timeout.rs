//! In timeout mode a connect that the peer never answers (its accept queue is
//! full) raises `TimeoutError('timed out')` after the timeout, and
//! `connect_ex` returns 11; the kernel's attempt goes on, so the next call
//! gives 114 (`EALREADY`) at once.

use nativesock_test_programs::*;
use std::time::Instant;

fn main() {
    let full = FullBacklog::new();
    let addr = inet("127.0.0.1", full.port);

    let s = tcp();
    s.settimeout(&float(0.5)).expect("settimeout(0.5)");
    let start = Instant::now();
    let err = assert_raises(s.connect(&addr), "TimeoutError", None, "timed out");
    assert_eq!(err.strerror, None);
    assert_took("connect", elapsed(start), 0.49, 1.0);
    println!("connect -> TimeoutError: timed out");

    let start = Instant::now();
    assert_eq!(s.connect_ex(&addr), Ok(114));
    assert_raises(
        s.connect(&addr),
        "BlockingIOError",
        Some(114),
        "[Errno 114] Operation already in progress",
    );
    assert_took("connect after the timeout", elapsed(start), 0.0, 0.2);
    assert_raises(
        s.getpeername(),
        "OSError",
        Some(107),
        "[Errno 107] Transport endpoint is not connected",
    );
    println!("then connect_ex -> 114, connect -> BlockingIOError 114");

    let c = tcp();
    c.settimeout(&float(0.5)).expect("settimeout(0.5)");
    let start = Instant::now();
    assert_eq!(c.connect_ex(&addr), Ok(11));
    assert_took("connect_ex", elapsed(start), 0.49, 1.0);
    assert_eq!(c.connect_ex(&addr), Ok(114));
    println!("connect_ex -> 11, then 114");
    drop(full);
}
