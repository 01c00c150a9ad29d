//! `socket.__new__`, `socket.bind` and `socket.connect` reach the embedder's
//! audit hook with CPython's arguments; the host test checks them against
//! the fds and port printed here.

use nativesock_test_programs::*;

fn main() {
    let (server, port) = listener(5);
    println!("listener {} {port}", server.fileno());
    let client = tcp();
    client.bind(&inet("127.0.0.1", 0)).expect("bind");
    client.connect(&inet("127.0.0.1", port)).expect("connect");
    println!("client {}", client.fileno());
    let (conn, _) = server.accept().expect("accept()");
    println!("accepted {}", conn.fileno());
}
