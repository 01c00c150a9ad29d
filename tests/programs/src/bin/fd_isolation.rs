//! Two stores cannot touch each other's sockets, even by their real fd
//! numbers.
//!
//! `fd_isolation owner` listens, prints `listening FD PORT` and waits (10 s at
//! most) for one connection; then checks that its listener is intact.
//! `fd_isolation intruder FD PORT`, run in another store meanwhile, fails to
//! wrap or close `FD` (`EBADF`), then connects to `PORT` to let the owner go.

use nativesock_test_programs::*;

fn owner() {
    let (server, port) = listener(5);
    let fd = server.fileno();
    announce(&format!("listening {fd} {port}"));
    server.settimeout(&float(10.0)).expect("settimeout(10.0)");
    let (conn, _) = server.accept().expect("the intruder's connection");
    assert_eq!(server.fileno(), fd);
    assert_eq!(port_of(&server.getsockname().expect("getsockname()")), port);
    assert_eq!(conn.getsockname(), Ok(returned(&inet("127.0.0.1", port))));
    println!("the listener is intact");
}

fn intruder(fd: i64, port: u16) {
    // `AF_INET`, `SOCK_STREAM`: the owner's listener, named explicitly too.
    assert_unreachable(&[fd], &[(2, 1, 0)]);
    tcp()
        .connect(&inet("127.0.0.1", port))
        .expect("connect to the owner");
}

fn main() {
    let args = args();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["owner"] => owner(),
        ["intruder", fd, port] => {
            intruder(fd.parse().expect("an fd"), port.parse().expect("a port"))
        }
        _ => panic!("usage: fd_isolation owner | fd_isolation intruder FD PORT, not {args:?}"),
    }
}
