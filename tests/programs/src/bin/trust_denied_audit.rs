//! A connect outside the grant is `PermissionError(13)`; the host's hooks
//! see CPython's `socket.connect` event and then the host's own
//! `nativesock.denied`.

use nativesock_test_programs::*;

fn main() {
    let s = tcp();
    assert_raises(
        s.connect(&inet("10.0.0.1", 80)),
        "PermissionError",
        Some(13),
        "[Errno 13] Permission denied",
    );
    println!("denied fd {}", s.fileno());
}
