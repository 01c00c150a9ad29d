//! A signal whose handler returns does not end a blocking connect: the
//! attempt goes on in the kernel and the connect succeeds once the peer
//! takes it.
//!
//! The argument is the port of the host test's listener, whose accept queue
//! is full. The host sends the signal 0.3 s after the `connecting` marker and
//! frees the queue 0.3 s later; the kernel's SYN retry then gets through at
//! about 1 s.

use nativesock_test_programs::*;
use std::time::Instant;

fn main() {
    let port: u16 = args()[0].parse().expect("a port");
    let addr = inet("127.0.0.1", port);

    let s = tcp();
    announce("connecting");
    let start = Instant::now();
    assert_eq!(s.connect(&addr), Ok(()));
    assert_took("connect", elapsed(start), 0.5, 10.0);
    assert_eq!(s.getpeername(), Ok(returned(&addr)));
}
