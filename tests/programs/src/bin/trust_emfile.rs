//! Past the host's cap on open sockets, `socket()`, `dup()` and `accept()`
//! raise `OSError(24)`, as at the process's own limit; closing one makes
//! room again. The first argument is the cap.

use nativesock_test_programs::*;

const EMFILE: &str = "[Errno 24] Too many open files";

fn main() {
    let cap: usize = args()[0].parse().expect("the cap");
    let (server, port) = listener(4);
    let client = tcp();
    client.connect(&inet("127.0.0.1", port)).expect("connect");
    let mut held = vec![server, client];
    while held.len() < cap {
        held.push(tcp());
    }
    assert_raises(
        Socket::create(None, None, None, None),
        "OSError",
        Some(24),
        EMFILE,
    );
    assert_raises(held[1].dup(), "OSError", Some(24), EMFILE);
    assert_raises(held[0].accept(), "OSError", Some(24), EMFILE);
    let last = held.pop().expect("a socket");
    last.close().expect("close");
    let (accepted, _) = held[0].accept().expect("room for the queued connection");
    println!("EMFILE at {cap} sockets; accepted fd {}", accepted.fileno());
}
