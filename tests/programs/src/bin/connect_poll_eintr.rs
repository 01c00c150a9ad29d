//! In timeout mode, a poll that fails with `EINTR` is retried (PEP 475) with
//! what is left of the one deadline: the connect still completes, or times
//! out when the timeout first set says.
//!
//! The host test injects `EINTR` into every other `poll` syscall, starting
//! with the first.

use nativesock_test_programs::*;
use std::time::Instant;

fn main() {
    let (_server, port) = listener(5);
    let s = tcp();
    s.settimeout(&float(2.0)).expect("settimeout(2.0)");
    let start = Instant::now();
    assert_eq!(s.connect(&inet("127.0.0.1", port)), Ok(()));
    assert_took("connect", elapsed(start), 0.0, 1.0);
    println!("connect -> None");

    let full = FullBacklog::new();
    let addr = inet("127.0.0.1", full.port);
    let c = tcp();
    c.settimeout(&float(0.5)).expect("settimeout(0.5)");
    let start = Instant::now();
    assert_raises(c.connect(&addr), "TimeoutError", None, "timed out");
    assert_took("connect", elapsed(start), 0.49, 1.0);
    println!("connect -> TimeoutError: timed out");

    let d = tcp();
    d.settimeout(&float(0.5)).expect("settimeout(0.5)");
    let start = Instant::now();
    assert_eq!(d.connect_ex(&addr), Ok(11));
    assert_took("connect_ex", elapsed(start), 0.49, 1.0);
    println!("connect_ex -> 11");
}
