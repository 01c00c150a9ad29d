//! `sendall` of 256 KiB over loopback TCP while the host's fault injector
//! makes `send` short and interrupts it (`EINTR`): every byte arrives, in
//! order, and `sendall` returns `None`. Blocking, then with a timeout.

use nativesock_test_programs::*;

fn main() {
    let data: Vec<u8> = (0..256 * 1024u32).map(|i| (i % 251) as u8).collect();
    for timeout in [None, Some(5.0)] {
        let (server, port) = listener(1);
        let client = tcp();
        client.connect(&inet("127.0.0.1", port)).expect("connect");
        let (peer, _) = server.accept().expect("accept");
        if let Some(t) = timeout {
            client.settimeout(&float(t)).expect("settimeout");
        }
        client.sendall(&data, None).expect("sendall");
        client.shutdown(&int(1)).expect("shutdown(SHUT_WR)");
        let mut got = Vec::new();
        loop {
            let chunk = peer.recv(&int(1 << 16), None).expect("recv");
            if chunk.is_empty() {
                break;
            }
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got.len(), data.len(), "every byte arrived");
        assert!(got == data, "in order");
        println!(
            "sendall with timeout {timeout:?}: {} bytes in order",
            got.len()
        );
    }
}
