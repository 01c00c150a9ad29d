//! A non-blocking connect raises `BlockingIOError` (`EINPROGRESS`) and never
//! waits; calling again reports the attempt's outcome, as the kernel does:
//! `connect_ex` gives 115, then 0 once connected, then 106. To a port that
//! refuses, the later call raises `ConnectionRefusedError`.

use nativesock_test_programs::*;
use std::time::Duration;

/// Calls `connect_ex` until the attempt is no longer in progress (114,
/// `EALREADY`), for at most two seconds, and returns what it gave then.
fn settle(s: &Socket, addr: &Address) -> i32 {
    for _ in 0..200 {
        match s.connect_ex(addr).expect("connect_ex") {
            114 => std::thread::sleep(Duration::from_millis(10)),
            code => return code,
        }
    }
    panic!("the connect was still in progress after 2 s");
}

fn main() {
    let (server, port) = listener(5);
    let addr = inet("127.0.0.1", port);

    let s = tcp();
    s.setblocking(&Value::Boolean(false))
        .expect("setblocking(False)");
    assert_eq!(s.gettimeout(), Some(0.0));
    assert!(!s.getblocking());
    assert_raises(
        s.connect(&addr),
        "BlockingIOError",
        Some(115),
        "[Errno 115] Operation now in progress",
    );
    assert_eq!(settle(&s, &addr), 0);
    assert_eq!(s.connect_ex(&addr), Ok(106));
    assert_eq!(s.getpeername(), Ok(returned(&addr)));
    println!("connect -> BlockingIOError 115, then 0, then 106");

    let c = tcp();
    c.setblocking(&Value::Boolean(false))
        .expect("setblocking(False)");
    assert_eq!(c.connect_ex(&addr), Ok(115));
    assert_eq!(settle(&c, &addr), 0);
    assert_eq!(c.connect_ex(&addr), Ok(106));
    println!("connect_ex -> 115, then 0, then 106");

    server
        .setblocking(&Value::Boolean(false))
        .expect("setblocking(False)");
    for _ in 0..2 {
        server
            .accept()
            .expect("both connections are in the accept queue");
    }

    let (_bound, refusing) = refusing_port();
    let refused = inet("127.0.0.1", refusing);
    let r = tcp();
    r.setblocking(&Value::Boolean(false))
        .expect("setblocking(False)");
    assert_eq!(r.connect_ex(&refused), Ok(115));
    assert_eq!(settle(&r, &refused), 111);
    println!("to a closed port: connect_ex -> 115, then 111");

    let r = tcp();
    r.setblocking(&Value::Boolean(false))
        .expect("setblocking(False)");
    assert_raises(
        r.connect(&refused),
        "BlockingIOError",
        Some(115),
        "[Errno 115] Operation now in progress",
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_raises(
        r.connect(&refused),
        "ConnectionRefusedError",
        Some(111),
        "[Errno 111] Connection refused",
    );
    println!("to a closed port: connect -> BlockingIOError 115, then ConnectionRefusedError 111");
}
