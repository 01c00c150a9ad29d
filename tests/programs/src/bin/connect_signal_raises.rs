//! A signal whose handler raises ends a blocking connect at once with the
//! handler's exception, for `connect` and `connect_ex` alike.
//!
//! The host test sends the signal 0.3 s after each `connecting` marker; its
//! handler raises `ZeroDivisionError('division by zero')`. Without the
//! signal, these connects would wait minutes for the kernel to give up.

use nativesock_test_programs::*;
use std::time::Instant;

fn main() {
    let full = FullBacklog::new();
    let addr = inet("127.0.0.1", full.port);

    let s = tcp();
    announce("connecting");
    let start = Instant::now();
    assert_raises(
        s.connect(&addr),
        "ZeroDivisionError",
        None,
        "division by zero",
    );
    assert_took("connect", elapsed(start), 0.25, 2.0);
    s.close().expect("close()");
    assert_eq!(s.fileno(), -1);

    let c = tcp();
    announce("connecting");
    let start = Instant::now();
    assert_raises(
        c.connect_ex(&addr),
        "ZeroDivisionError",
        None,
        "division by zero",
    );
    assert_took("connect_ex", elapsed(start), 0.25, 2.0);
    c.close().expect("close()");
}
