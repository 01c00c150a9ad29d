//! Blocking `connect` and `connect_ex` to a listener succeed; connecting a
//! connected socket again is `EISCONN`; a timeout-mode connect succeeds too.

use nativesock_test_programs::*;

fn main() {
    let (server, port) = listener(5);
    let addr = inet("127.0.0.1", port);

    let s = tcp();
    assert_eq!(s.gettimeout(), None);
    assert_eq!(s.connect(&addr), Ok(()));
    assert_eq!(s.getpeername(), Ok(returned(&addr)));
    let (conn, peer) = server.accept().expect("accept()");
    assert_eq!(Ok(peer), s.getsockname());
    assert_eq!(conn.getpeername(), s.getsockname());
    println!("connect -> None");

    assert_raises(
        s.connect(&addr),
        "OSError",
        Some(106),
        "[Errno 106] Transport endpoint is already connected",
    );
    assert_eq!(s.connect_ex(&addr), Ok(106));
    println!("connect again -> OSError 106, connect_ex -> 106");

    let c = tcp();
    assert_eq!(c.connect_ex(&addr), Ok(0));
    assert_eq!(c.getpeername(), Ok(returned(&addr)));
    println!("connect_ex -> 0");

    let t = tcp();
    t.settimeout(&float(2.0)).expect("settimeout(2.0)");
    assert_eq!(t.connect(&addr), Ok(()));
    assert_eq!(t.gettimeout(), Some(2.0));
    assert_eq!(t.getpeername(), Ok(returned(&addr)));
    println!("timeout-mode connect -> None");
}
