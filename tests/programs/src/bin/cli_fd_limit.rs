//! Opens sockets until the host says no. Under a low `RLIMIT_NOFILE` the
//! host keeps fds of its own in reserve, so the guest gets `OSError(24)`,
//! and the host (its stdout included) goes on working: the guest then
//! writes, closes everything and opens a socket again.

use nativesock_test_programs::*;

fn main() {
    let mut held = Vec::new();
    let err = loop {
        match Socket::create(None, None, None, None) {
            Ok(s) => held.push(s),
            Err(e) => break e,
        }
    };
    println!(
        "opened {} sockets, then {}: {}",
        held.len(),
        err.exception,
        err.message
    );
    for i in 0..200 {
        println!("still writing {i}");
    }
    drop(held);
    tcp();
    println!("done");
}
