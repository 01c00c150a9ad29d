//! `socket.__new__`, `socket.bind` and `socket.connect` reach the embedder's
//! audit hook with CPython's arguments; the host test checks them against
//! the fds and port printed here. An int of any size reaches the hook as
//! the program passed it: `flowinfo` is masked to 32 bits for the call, but
//! the event carries the original address.

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
    let six = Socket::create(Some(&int(constant("AF_INET6").unwrap())), None, None, None)
        .expect("socket(AF_INET6)");
    let flowinfo = Value::BigInt("18446744073709551621".into());
    let address = Address::Tuple(vec![Value::Str("::1".into()), int(port), flowinfo]);
    // Refused or denied: only the event matters here.
    let _ = six.connect_ex(&address);
    println!("six {}", six.fileno());
}
