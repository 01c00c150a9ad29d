//! The benchmarks' app component: imports `nativesock:socket/socket` (world
//! `app`) and times its own loops on the guest's monotonic clock, so that
//! instantiation is never part of a figure. `nativesock-bench` composes it
//! with the semantics component and runs it with one mode per run:
//!
//! ```text
//! getsockname N          N x getsockname() on a bound socket: prints ns
//! connect PORT N         N x (socket(), connect(), close()): prints ns
//! sendall PORT BYTES CHUNK  connect, sendall() BYTES in CHUNK pieces, shutdown(SHUT_WR), recv() the EOF: prints ns
//! send, sendmsg ...      the same with send() (resending what it left) or sendmsg([piece])
//! recv PORT BYTES CHUNK  connect, recv(CHUNK) until BYTES or EOF: prints ns
//! recv-into, recvmsg ... the same with recv_into() into one CHUNK buffer (the
//!                        binding's copy included) or recvmsg(CHUNK)
//! hold PORT N [quiet]    N connected sockets left open for the host to count: prints ns
//! trivial                socket(), close(): for start-up times
//! noop, consts           nothing; or only the host's constants: for profiles
//! raw-connect, raw-send, raw-recv
//!                        `connect`/`send`/`recv` on the host's `native` interface directly
//! ```

use std::hint::black_box;
use std::time::Instant;

use nativesock::socket::socket::{Address, Socket, Value};

wit_bindgen::generate!({
    path: "../../../wit",
    // The `app` world, plus the host's `native` interface for the `raw-*`
    // modes, which skip the semantics component (and the copy between the
    // two components) to show what the host layer alone costs.
    inline: "
        package nativesock:bench;
        world bench {
            include nativesock:socket/app@0.1.0;
            import nativesock:socket/native@0.1.0;
        }
    ",
    world: "nativesock:bench/bench",
    generate_all,
});

/// The `raw-send` and `raw-recv` modes: the host's `native` interface.
mod raw {
    use crate::nativesock::socket::native::{self, InetAddress, Sockaddr};

    fn c(name: &str) -> i32 {
        native::constant(name).expect("a host constant") as i32
    }

    /// `raw-connect`: N x (socket, connect, close) on the host's layer,
    /// constants looked up once.
    pub fn connect_loop(port: u64, n: u64) {
        let (family, kind) = (c("AF_INET"), c("SOCK_STREAM"));
        let address = Sockaddr::Inet(InetAddress {
            addr: (127, 0, 0, 1),
            port: port as u16,
        });
        for _ in 0..n {
            let fd = native::socket(family, kind, 0).expect("socket");
            native::connect(fd, &address).expect("connect");
            native::close(fd).expect("close");
        }
    }

    pub fn connect(port: u64) -> i32 {
        let fd = native::socket(c("AF_INET"), c("SOCK_STREAM"), 0).expect("socket");
        let address = Sockaddr::Inet(InetAddress {
            addr: (127, 0, 0, 1),
            port: port as u16,
        });
        native::connect(fd, &address).expect("connect");
        fd
    }

    pub fn send(fd: i32, mut data: &[u8]) {
        while !data.is_empty() {
            let n = native::send(fd, data, 0).expect("send");
            data = &data[n as usize..];
        }
    }

    pub fn finish(fd: i32) {
        native::shutdown(fd, c("SHUT_WR")).expect("shutdown");
        assert!(native::recv(fd, 1, 0).expect("recv").is_empty());
        native::close(fd).expect("close");
    }

    pub fn recv(fd: i32, len: u32) -> usize {
        native::recv(fd, len, 0).expect("recv").len()
    }
}

fn inet(port: u64) -> Address {
    Address::Tuple(vec![
        Value::Str("127.0.0.1".into()),
        Value::Int(port as i64),
    ])
}

fn socket() -> Socket {
    Socket::create(None, None, None, None).expect("socket()")
}

fn connected(address: &Address) -> Socket {
    let s = socket();
    s.connect(address).expect("connect()");
    s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize| -> u64 {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("argument {i} must be a number: {args:?}"))
    };
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let start = Instant::now();
    match mode {
        "getsockname" => {
            let s = socket();
            s.bind(&inet(0)).expect("bind()");
            let start = Instant::now();
            for _ in 0..num(2) {
                black_box(s.getsockname().expect("getsockname()"));
            }
            println!("{}", start.elapsed().as_nanos());
        }
        "connect" => {
            let address = inet(num(2));
            for _ in 0..num(3) {
                let s = connected(&address);
                s.close().expect("close()");
            }
            println!("{}", start.elapsed().as_nanos());
        }
        "sendall" | "send" | "sendmsg" => {
            let s = connected(&inet(num(2)));
            let (mut left, chunk) = (num(3), num(4));
            let buf = vec![0x5a_u8; chunk as usize];
            let mut buffers = [buf.clone()];
            let start = Instant::now();
            while left > 0 {
                let n = left.min(chunk) as usize;
                match mode {
                    "sendall" => s.sendall(&buf[..n], None).expect("sendall()"),
                    "send" => {
                        // What a program without sendall does: send again
                        // what the kernel did not take.
                        let mut piece = &buf[..n];
                        while !piece.is_empty() {
                            let sent = s.send(piece, None).expect("send()");
                            piece = &piece[sent as usize..];
                        }
                    }
                    _ => {
                        // The binding takes owned buffers: the whole piece
                        // is made once, only a remainder is copied.
                        if buffers[0].len() != n {
                            buffers[0] = buf[..n].to_vec();
                        }
                        let mut sent = s.sendmsg(&buffers, &[], None, None).expect("sendmsg()");
                        while (sent as usize) < n {
                            let rest = [buf[sent as usize..n].to_vec()];
                            sent += s.sendmsg(&rest, &[], None, None).expect("sendmsg()");
                        }
                    }
                }
                left -= n as u64;
            }
            s.shutdown(&Value::Int(1)).expect("shutdown()");
            let eof = s.recv(&Value::Int(1), None).expect("recv()");
            assert!(eof.is_empty(), "the peer sent data");
            println!("{}", start.elapsed().as_nanos());
        }
        "recv" | "recv-into" | "recvmsg" => {
            let s = connected(&inet(num(2)));
            let (total, chunk) = (num(3), num(4));
            // recv_into's buffer: the binding copies what arrived into it.
            let mut buf = vec![0_u8; chunk as usize];
            let mut got = 0;
            let start = Instant::now();
            while got < total {
                let n = match mode {
                    "recv" => s
                        .recv(&Value::Int(chunk as i64), None)
                        .expect("recv()")
                        .len(),
                    "recv-into" => {
                        let r = s.recv_into(chunk, None, None).expect("recv_into()");
                        buf[..r.data.len()].copy_from_slice(&r.data);
                        r.nbytes as usize
                    }
                    _ => s
                        .recvmsg(&Value::Int(chunk as i64), None, None)
                        .expect("recvmsg()")
                        .data
                        .len(),
                };
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
            black_box(&buf);
            assert_eq!(got, total, "the peer closed early");
            println!("{}", start.elapsed().as_nanos());
        }
        "raw-connect" => {
            raw::connect_loop(num(2), num(3));
            println!("{}", start.elapsed().as_nanos());
        }
        "raw-send" => {
            let fd = raw::connect(num(2));
            let (mut left, chunk) = (num(3), num(4));
            let buf = vec![0x5a_u8; chunk as usize];
            let start = Instant::now();
            while left > 0 {
                let n = left.min(chunk);
                raw::send(fd, &buf[..n as usize]);
                left -= n;
            }
            raw::finish(fd);
            println!("{}", start.elapsed().as_nanos());
        }
        "raw-recv" => {
            let fd = raw::connect(num(2));
            let (total, chunk) = (num(3), num(4));
            let mut got = 0;
            let start = Instant::now();
            while got < total {
                let n = raw::recv(fd, chunk as u32);
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
            assert_eq!(got, total, "the peer closed early");
            println!("{}", start.elapsed().as_nanos());
        }
        "hold" => {
            let address = inet(num(2));
            for _ in 0..num(3) {
                // Left open: the store owns the fd until the host drops it.
                std::mem::forget(connected(&address));
            }
            if args.get(4).map(String::as_str) != Some("quiet") {
                println!("{}", start.elapsed().as_nanos());
            }
        }
        "noop" => {}
        "consts" => {
            black_box(nativesock::socket::socket::constant("AF_INET"));
        }
        "trivial" => {
            socket().close().expect("close()");
        }
        _ => panic!("unknown mode: {args:?}"),
    }
}
