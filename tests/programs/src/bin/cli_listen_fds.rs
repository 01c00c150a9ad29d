//! A server that binds nothing: it serves on the sockets handed to it
//! (`nativesock run --listen`, systemd socket activation), found as
//! systemd's protocol says, from `LISTEN_FDS` and `LISTEN_FDNAMES`. For
//! each it prints `fd N NAME PORT`, then accepts one connection and
//! answers the line it reads with `NAME: LINE`. A bind would fail: the run
//! grants none.

use nativesock_test_programs::*;

fn main() {
    let count: i64 = std::env::var("LISTEN_FDS")
        .expect("LISTEN_FDS is set")
        .parse()
        .expect("LISTEN_FDS is a number");
    let names = std::env::var("LISTEN_FDNAMES").expect("LISTEN_FDNAMES is set");
    let names: Vec<&str> = names.split(':').collect();
    assert_eq!(names.len() as i64, count, "one name per fd");

    // No bind grant: a socket of the guest's own cannot listen.
    let own = tcp();
    assert_raises(
        own.bind(&inet("127.0.0.1", 0)),
        "PermissionError",
        Some(13),
        "[Errno 13] Permission denied",
    );
    own.close().unwrap();

    let listeners: Vec<(Socket, &str)> = (0..count)
        .zip(&names)
        .map(|(i, name)| {
            let fd = 3 + i;
            let socket = Socket::create(None, None, None, Some(&int(fd)))
                .unwrap_or_else(|e| panic!("socket(fileno={fd}): {e:?}"));
            assert_eq!(socket.fileno(), fd);
            let port = port_of(&socket.getsockname().expect("getsockname"));
            announce(&format!("fd {fd} {name} {port}"));
            (socket, *name)
        })
        .collect();
    for (listener, name) in &listeners {
        let (conn, _) = listener.accept().expect("accept");
        let mut line = Vec::new();
        while !line.ends_with(b"\n") {
            let chunk = conn.recv(&int(64), None).expect("recv");
            assert!(!chunk.is_empty(), "the peer closed before a line");
            line.extend_from_slice(&chunk);
        }
        let mut answer = format!("{name}: ").into_bytes();
        answer.extend_from_slice(&line);
        conn.sendall(&answer, None).expect("sendall");
        conn.close().unwrap();
    }
    announce("served");
}
