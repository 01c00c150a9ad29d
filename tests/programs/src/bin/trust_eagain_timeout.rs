//! A socket with a timeout polls, then calls; when the call still says
//! `EAGAIN` (here injected by the host), CPython polls and calls again
//! until the deadline. `recv` and `send` both come through.

use nativesock_test_programs::*;

fn main() {
    let (server, port) = listener(1);
    let client = tcp();
    client.connect(&inet("127.0.0.1", port)).expect("connect");
    let (peer, _) = server.accept().expect("accept");
    peer.settimeout(&float(5.0)).expect("settimeout");
    client.settimeout(&float(5.0)).expect("settimeout");
    client.send(b"hello", None).expect("send through EAGAIN");
    let got = peer.recv(&int(100), None).expect("recv through EAGAIN");
    assert_eq!(got, b"hello");
    println!("recv and send retried through EAGAIN");
}
