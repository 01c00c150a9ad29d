//! `sendall` on a full send buffer with `EINTR` in the middle (the host
//! test injects it into `poll` and runs the "handler"): with a handler
//! that returns, the call keeps its one deadline across partial sends and
//! interruptions (`TimeoutError` after the timeout, not later); with a
//! handler that raises, its exception leaves `sendall` after the partial
//! send, and what was sent reaches the peer.

use nativesock_test_programs::nativesock::socket::socket as ns;
use nativesock_test_programs::*;
use std::time::Instant;

fn c(name: &str) -> i64 {
    constant(name).unwrap_or_else(|| panic!("no constant {name}"))
}

fn main() {
    let mode = args().pop().expect("mode: returns | raises");
    let (a, b) = ns::socketpair(None, None, None).expect("socketpair()");
    a.setsockopt(
        &int(c("SOL_SOCKET")),
        &int(c("SO_SNDBUF")),
        &Value::Int(4096),
        None,
    )
    .unwrap();
    let data = vec![7u8; 1 << 20];
    match mode.as_str() {
        "returns" => {
            a.settimeout(&float(0.5)).unwrap();
            let start = Instant::now();
            assert_raises(a.sendall(&data, None), "TimeoutError", None, "timed out");
            assert_took("sendall", elapsed(start), 0.49, 0.9);
        }
        "raises" => {
            a.settimeout(&float(5.0)).unwrap();
            let start = Instant::now();
            let e = a.sendall(&data, None).unwrap_err();
            assert_eq!(
                (e.exception.as_str(), e.message.as_str()),
                ("ZeroDivisionError", "division by zero")
            );
            assert_took("sendall", elapsed(start), 0.0, 1.0);
        }
        other => panic!("unknown mode {other}"),
    }
    b.settimeout(&Value::Int(0)).unwrap();
    let got = b
        .recv(&int(1 << 20), None)
        .expect("the partial send reached the peer");
    assert!(
        !got.is_empty() && got.len() < data.len(),
        "{} bytes",
        got.len()
    );
    println!("{mode}: {} bytes arrived before the exception", got.len());
}
