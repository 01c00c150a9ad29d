//! The fuzz target's other half, over the component boundary: a guest that
//! imports the native interface directly and makes the calls a script
//! says, with whatever arguments the script's bytes make (any fd, length,
//! flag, option or address). The first argument is the script in hex; the
//! next ones are ports the script may name (the host's granted listener
//! and a canary outside the grant). Every byte it sends is 7.

wit_bindgen::generate!({
    path: "../../wit",
    world: "host",
});

use nativesock::socket::native::{
    self as n, CmsgHeader, Inet6Address, InetAddress, Pollfd, Sockaddr,
};

/// Ignores a call's result: the script only has to make the calls.
fn ignore<T>(_: T) {}

/// Reads a script: each call takes what it needs; past the end, zeros.
struct Script {
    bytes: Vec<u8>,
    at: usize,
}

impl Script {
    fn u8(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = usize::from(self.u8()) % (max + 1);
        (0..n).map(|_| self.u8()).collect()
    }
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let hex = &args[1];
    let bytes = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let ports: Vec<u16> = args[2..]
        .iter()
        .map(|p| p.parse().expect("a port"))
        .collect();
    let mut s = Script { bytes, at: 0 };
    let mut own: Vec<i32> = Vec::new();
    while !s.done() {
        let op = s.u8() % 26;
        // An fd: mostly one of ours, sometimes any number.
        let fd = {
            let pick = s.u8();
            if pick < 200 && !own.is_empty() {
                own[usize::from(pick) % own.len()]
            } else {
                s.i32() % 64
            }
        };
        let addr = match s.u8() % 8 {
            0..=2 => {
                let port = match s.u8() % 3 {
                    0 if !ports.is_empty() => ports[usize::from(s.u8()) % ports.len()],
                    1 => 0,
                    _ => s.u16(),
                };
                let ip = if s.u8().is_multiple_of(4) {
                    (s.u8(), s.u8(), s.u8(), s.u8())
                } else {
                    (127, 0, 0, 1)
                };
                Sockaddr::Inet(InetAddress { addr: ip, port })
            }
            3 => Sockaddr::Inet6(Inet6Address {
                addr: (
                    0,
                    0,
                    0,
                    0,
                    0,
                    0xffff * u16::from(s.u8() % 2),
                    0x7f00,
                    u16::from(s.u8()),
                ),
                port: s.u16(),
                flowinfo: s.i32() as u32,
                scope_id: s.i32() as u32,
            }),
            4 => Sockaddr::Unix(s.bytes(120)),
            5 => Sockaddr::Unspec,
            6 => Sockaddr::Other((s.i32(), s.bytes(40))),
            _ => Sockaddr::Unix(b"/tmp/nativesock-fuzz-outside".to_vec()),
        };
        let (a, b) = (s.i32(), s.i32());
        let len = if s.u8().is_multiple_of(8) {
            s.i32() as u32
        } else {
            u32::from(s.u16())
        };
        // `MSG_DONTWAIT`, `MSG_ZEROCOPY | MSG_DONTWAIT`, or anything.
        let flags = match s.u8() % 4 {
            0 | 1 => 0x40,
            2 => 0x0400_0040,
            _ => s.i32(),
        };
        match op {
            0 | 1 => {
                let family = [2, 10, 1, 17, 16][usize::from(s.u8()) % 5];
                let ty = [1, 2, 5, 3][usize::from(s.u8()) % 4] | (s.u8() as i32 & 1) << 11;
                if let Ok(fd) = n::socket(family, ty, 0) {
                    own.push(fd);
                }
            }
            2 => {
                if let Ok((x, y)) = n::socketpair(1, 1 + i32::from(s.u8() % 2), 0) {
                    own.extend([x, y]);
                }
            }
            3 => {
                let _ = n::close(fd);
                own.retain(|&f| f != fd);
            }
            4 => ignore(n::connect(fd, &addr)),
            5 => ignore(n::bind(fd, &addr)),
            6 => ignore(n::listen(fd, a)),
            7 => {
                if let Ok((new, _)) = n::accept(fd, 0x800) {
                    own.push(new);
                }
            }
            8 => ignore(n::getsockname(fd)),
            9 => ignore(n::getpeername(fd)),
            10 => ignore(n::getsockopt(fd, a % 300, b % 100, len)),
            11 => ignore(n::setsockopt(fd, a % 300, b % 100, &s.bytes(32))),
            12 => ignore(n::setsockopt_null(fd, a % 300, b % 100, len)),
            13 => ignore(n::send(fd, &vec![7u8; (len % 70_000) as usize], flags)),
            14 => ignore(n::sendto(
                fd,
                &vec![7u8; (len % 70_000) as usize],
                flags,
                &addr,
            )),
            15 => ignore(n::recv(fd, len, flags)),
            16 => ignore(n::recvfrom(fd, len, flags)),
            17 => ignore(n::shutdown(fd, a % 4)),
            18 => {
                if let Ok(new) = n::dup(fd) {
                    own.push(new);
                }
            }
            19 => ignore(n::set_nonblocking(fd, a % 2 == 0)),
            20 => ignore(n::set_cloexec(fd, a % 2 == 0)),
            21 => ignore(n::poll(fd, a as i16, (b % 3).abs())),
            22 => {
                let rights = CmsgHeader {
                    level: 1,
                    kind: 1,
                    length: 4,
                };
                let to = (s.u8().is_multiple_of(2)).then_some(addr);
                // Every byte a script sends is 7, so a peer can tell host
                // memory from what the guest sent.
                let data = vec![7u8; usize::from(s.u8() % 65)];
                // Lengths that may or may not add up to the data's.
                let lengths = [u32::from(s.u8()), u32::from(s.u8())];
                ignore(n::sendmsg(
                    fd,
                    &data,
                    &lengths,
                    &[rights],
                    &fd.to_ne_bytes(),
                    flags,
                    to.as_ref(),
                ));
            }
            23 => {
                if let Ok(msg) = n::recvmsg(fd, len, len % 512, flags) {
                    for c in msg.ancillary.iter().filter(|c| c.level == 1 && c.kind == 1) {
                        own.extend(
                            c.data
                                .as_chunks::<4>()
                                .0
                                .iter()
                                .map(|b| i32::from_ne_bytes(*b)),
                        );
                    }
                }
            }
            24 => ignore(n::getaddrinfo(Some("localhost"), Some("80"), 0, 1, 0, a)),
            _ => match s.u8() % 16 {
                0 => panic!("trapping in the middle of the script"),
                1 => std::process::exit(2),
                // Several fds at once: an own one, any number, a skipped one.
                2 | 3 => ignore(n::poll_fds(
                    &[
                        Pollfd {
                            fd,
                            events: a as i16,
                        },
                        Pollfd { fd: b, events: 1 },
                        Pollfd { fd: -1, events: 4 },
                    ],
                    (b % 3).abs(),
                )),
                _ => ignore(n::check_signals()),
            },
        }
    }
    println!("script done with {} fds", own.len());
}
