//! A program that uses `wasi:sockets` only (Rust's `std::net` on
//! wasm32-wasip2), to show that nativesock's grants govern it too. Each
//! argument is one operation; each prints one line, `OP ADDR: ok` or
//! `OP ADDR: KIND` (the `std::io::ErrorKind` it failed with; a lookup's
//! message):
//!
//! - `connect=ADDR`: a TCP connect, then one byte written and read back;
//! - `listen=ADDR`: a TCP listener bound to `ADDR`;
//! - `udp=ADDR`: a datagram sent to `ADDR` from a new UDP socket;
//! - `lookup=HOST:PORT`: a name lookup (`ToSocketAddrs`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};

fn main() {
    for arg in std::env::args().skip(1) {
        let (op, addr) = arg.split_once('=').expect("OP=ADDR");
        let result = match op {
            "connect" => TcpStream::connect(addr).and_then(|mut stream| {
                stream.write_all(b"x")?;
                let mut byte = [0];
                stream.read_exact(&mut byte)?;
                assert_eq!(&byte, b"x", "the echo");
                Ok(())
            }),
            "listen" => TcpListener::bind(addr).map(drop),
            "udp" => UdpSocket::bind("0.0.0.0:0").and_then(|socket| {
                socket.send_to(b"x", addr)?;
                Ok(())
            }),
            "lookup" => addr.to_socket_addrs().map(drop),
            _ => panic!("unknown operation `{op}`"),
        };
        match result {
            Ok(()) => println!("{op} {addr}: ok"),
            // A failed lookup is `Uncategorized`: its message says why.
            Err(e) if op == "lookup" => println!("{op} {addr}: {e}"),
            Err(e) => println!("{op} {addr}: {:?}", e.kind()),
        }
    }
}
