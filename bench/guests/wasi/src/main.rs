//! The benchmarks' plain wasm32-wasip2 guest: Rust's `std::net` on
//! wasmtime-wasi's `wasi:sockets` (through wasi-libc), timing its own loops
//! on the guest's monotonic clock. The modes are the app component's
//! (`connect`, `sendall`, `recv`), with `std::net` calls:
//!
//! ```text
//! connect PORT N         N x (TcpStream::connect, drop): prints ns
//! sendall PORT BYTES CHUNK  connect, write_all() BYTES in CHUNK pieces, shutdown(Write), read() the EOF: prints ns
//! recv PORT BYTES CHUNK  connect, read() into CHUNK until BYTES or EOF: prints ns
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize| -> u64 {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("argument {i} must be a number: {args:?}"))
    };
    let address = SocketAddr::from(([127, 0, 0, 1], num(2) as u16));
    let connect = || TcpStream::connect(address).expect("connect");
    match args.get(1).map(String::as_str).unwrap_or("") {
        "connect" => {
            let start = Instant::now();
            for _ in 0..num(3) {
                drop(connect());
            }
            println!("{}", start.elapsed().as_nanos());
        }
        "sendall" => {
            let mut s = connect();
            let (mut left, chunk) = (num(3), num(4));
            let buf = vec![0x5a_u8; chunk as usize];
            let start = Instant::now();
            while left > 0 {
                let n = left.min(chunk);
                s.write_all(&buf[..n as usize]).expect("write_all");
                left -= n;
            }
            s.shutdown(Shutdown::Write).expect("shutdown");
            let n = s.read(&mut [0; 1]).expect("read");
            assert_eq!(n, 0, "the peer sent data");
            println!("{}", start.elapsed().as_nanos());
        }
        "recv" => {
            let mut s = connect();
            let (total, chunk) = (num(3), num(4));
            let mut buf = vec![0_u8; chunk as usize];
            let mut got = 0;
            let start = Instant::now();
            while got < total {
                let n = s.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
            assert_eq!(got, total, "the peer closed early");
            println!("{}", start.elapsed().as_nanos());
        }
        _ => panic!("unknown mode: {args:?}"),
    }
}
