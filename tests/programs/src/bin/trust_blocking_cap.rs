//! A blocking `recv()` on a store whose host caps a call's blocking time:
//! `TimeoutError(110)` when the cap runs out, not a hang.

use nativesock_test_programs::*;
use std::time::Instant;

fn main() {
    let (server, port) = listener(1);
    let client = tcp();
    client.connect(&inet("127.0.0.1", port)).expect("connect");
    let (peer, _) = server.accept().expect("accept");
    let start = Instant::now();
    assert_raises(
        peer.recv(&int(10), None),
        "TimeoutError",
        Some(110),
        "[Errno 110] Connection timed out",
    );
    assert_took("recv", elapsed(start), 0.15, 5.0);
    // With a socket timeout longer than the cap, the cap still ends the wait.
    peer.settimeout(&float(30.0)).expect("settimeout");
    let start = Instant::now();
    assert_raises(
        peer.recv(&int(10), None),
        "TimeoutError",
        Some(110),
        "[Errno 110] Connection timed out",
    );
    assert_took("recv with a timeout", elapsed(start), 0.15, 5.0);
}
