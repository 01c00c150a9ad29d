//! One of thousands of short-lived stores: it imports the native interface
//! directly, opens sockets of every kind (connects one to the host's
//! listener, whose port is the first argument, dups it, makes a pair, a
//! listener, a datagram socket) and then, by the second argument:
//!
//! - `abandon`: returns with all of them open;
//! - `trap`: traps;
//! - `exit`: calls `exit(3)` (status 1 through `wasi:cli/exit`);
//! - `block`: blocks in `recv` until the host ends the call (cancel or
//!   time cap), then traps in the middle of its work.

wit_bindgen::generate!({
    path: "../../wit",
    world: "host",
});

use nativesock::socket::native::{self as n, InetAddress, Sockaddr};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args[1].parse().expect("a port");
    let (af_inet, af_unix, stream, dgram) = (2, 1, 1, 2);
    let c = n::socket(af_inet, stream, 0).expect("socket");
    let to = Sockaddr::Inet(InetAddress {
        addr: (127, 0, 0, 1),
        port,
    });
    n::connect(c, &to).expect("connect to the host's listener");
    let _d = n::dup(c).expect("dup");
    let (p, _q) = n::socketpair(af_unix, stream, 0).expect("socketpair");
    let l = n::socket(af_inet, stream, 0).expect("socket");
    n::bind(
        l,
        &Sockaddr::Inet(InetAddress {
            addr: (127, 0, 0, 1),
            port: 0,
        }),
    )
    .expect("bind");
    n::listen(l, 1).expect("listen");
    let _u = n::socket(af_inet, dgram, 0).expect("socket");
    match args[2].as_str() {
        "abandon" => {}
        "trap" => panic!("trapping with sockets open"),
        "exit" => std::process::exit(3),
        "block" => {
            // Nothing ever arrives on the pair.
            let result = n::recv(p, 10, 0);
            panic!("trapping after the blocked recv ended: {result:?}");
        }
        other => panic!("unknown mode {other}"),
    }
}
