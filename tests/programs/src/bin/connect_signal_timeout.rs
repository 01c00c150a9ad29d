//! A signal whose handler returns does not move a timeout-mode connect's
//! deadline (PEP 475): with `settimeout(1.0)` and a signal at 0.3 s, the
//! connect still times out at 1.0 s, not 1.3 s.
//!
//! The host test sends the signal 0.3 s after each `connecting` marker.

use nativesock_test_programs::*;
use std::time::Instant;

fn main() {
    let full = FullBacklog::new();
    let addr = inet("127.0.0.1", full.port);

    let s = tcp();
    s.settimeout(&float(1.0)).expect("settimeout(1.0)");
    announce("connecting");
    let start = Instant::now();
    assert_raises(s.connect(&addr), "TimeoutError", None, "timed out");
    assert_took("connect", elapsed(start), 0.99, 1.25);

    let c = tcp();
    c.settimeout(&float(1.0)).expect("settimeout(1.0)");
    announce("connecting");
    let start = Instant::now();
    assert_eq!(c.connect_ex(&addr), Ok(11));
    assert_took("connect_ex", elapsed(start), 0.99, 1.25);
}
