//! The embedder cancels the store while it blocks in `recv()`: the call
//! ends with the cancellation exception (CPython's PEP 475 loop stops
//! instead of retrying), and so does every later blocking call.

use nativesock_test_programs::*;

fn main() {
    let (server, port) = listener(1);
    let client = tcp();
    client.connect(&inet("127.0.0.1", port)).expect("connect");
    let (peer, _) = server.accept().expect("accept");
    announce("blocking");
    let err = peer
        .recv(&int(10), None)
        .expect_err("the host cancels the recv");
    assert_eq!(
        (err.exception.as_str(), err.message.as_str()),
        ("CancelledError", "the host cancelled the call"),
        "{err:?}"
    );
    let err = server.accept().map(|_| ()).expect_err("still cancelled");
    assert_eq!(err.exception, "CancelledError", "{err:?}");
    // What does not block still works, and close closes.
    assert!(client.getsockname().is_ok());
    client.close().expect("close");
    println!("recv and accept cancelled");
}
