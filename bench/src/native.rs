//! The native side: Rust `std::net` clients in the bench process, the peers
//! every client talks to (threads), and process measurements.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};

/// What a peer thread does with the connections it accepts.
pub enum Peer {
    /// Accepts this many connections and closes each at once.
    Drop(u64),
    /// Accepts one connection and reads it to the end.
    Sink,
    /// Accepts one connection, writes this many bytes in chunks, closes.
    Source(u64, usize),
}

/// A listener on `127.0.0.1:0` with a peer thread behind it: the port, and
/// the thread, which returns the bytes it moved (or the connections).
pub fn peer(kind: Peer) -> Result<(u16, JoinHandle<u64>)> {
    let listener = listen()?;
    let port = listener.local_addr()?.port();
    let thread = std::thread::spawn(move || match kind {
        Peer::Drop(n) => {
            let mut accepted = 0;
            // Bounded even if accept keeps failing (EMFILE...).
            for _ in 0..n.saturating_mul(2).saturating_add(100) {
                if accepted == n {
                    break;
                }
                if listener.accept().is_ok() {
                    accepted += 1;
                }
            }
            accepted
        }
        Peer::Sink => {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = vec![0_u8; 256 << 10];
            let mut total = 0;
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break total,
                    Ok(n) => total += n as u64,
                }
            }
        }
        Peer::Source(mut left, chunk) => {
            let (mut s, _) = listener.accept().expect("accept");
            let buf = vec![0xa5_u8; chunk];
            let total = left;
            while left > 0 {
                let n = left.min(chunk as u64) as usize;
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
                left -= n as u64;
            }
            total - left
        }
    });
    Ok((port, thread))
}

/// A listener on an ephemeral loopback port with the kernel's largest backlog.
pub fn listen() -> Result<TcpListener> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    // std listens with a backlog of 128; a second listen() raises it (to
    // SOMAXCONN at most) so that bursts of connects never wait for a SYN retry.
    // SAFETY: a plain syscall on a listening socket this function owns.
    let r = unsafe { libc::listen(listener.as_raw_fd(), 4096) };
    ensure!(r == 0, "listen: {}", std::io::Error::last_os_error());
    Ok(listener)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `n` x `getsockname` on a bound socket: ns.
pub fn getsockname(n: u64) -> Result<u64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let fd = listener.as_raw_fd();
    let start = Instant::now();
    for _ in 0..n {
        // SAFETY: `storage` is large enough for any address and `len` says so.
        let r = unsafe {
            let mut storage: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            libc::getsockname(fd, (&raw mut storage).cast(), &mut len)
        };
        ensure!(r == 0, "getsockname: {}", std::io::Error::last_os_error());
        std::hint::black_box(r);
    }
    Ok(start.elapsed().as_nanos() as u64)
}

/// `n` x (connect, close): ns.
pub fn connect(port: u16, n: u64) -> Result<u64> {
    let start = Instant::now();
    for _ in 0..n {
        drop(TcpStream::connect(loopback(port)).context("connect")?);
    }
    Ok(start.elapsed().as_nanos() as u64)
}

/// How a native client moves its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `send`/`recv` (`write`/`read`: the same on a socket).
    Plain,
    /// `sendmsg`/`recvmsg` with one buffer.
    Msg,
}

/// `sendmsg(fd, [data], 0)`, or `recvmsg(fd, [data], 0)` when `recv`.
fn msg(fd: i32, data: *mut u8, len: usize, recv: bool) -> std::io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: data.cast(),
        iov_len: len,
    };
    // SAFETY: `msg` points at one iovec over `len` bytes of a live buffer
    // (only read by sendmsg) and names no address or control data.
    let r = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        if recv {
            libc::recvmsg(fd, &raw mut msg, 0)
        } else {
            libc::sendmsg(fd, &raw const msg, 0)
        }
    };
    usize::try_from(r).map_err(|_| std::io::Error::last_os_error())
}

/// Sends `bytes` in `chunk` pieces, shuts down writing and waits for the
/// peer's EOF: ns.
pub fn send(port: u16, bytes: u64, chunk: usize, call: Call) -> Result<u64> {
    let mut s = TcpStream::connect(loopback(port))?;
    let mut buf = vec![0x5a_u8; chunk];
    let mut left = bytes;
    let start = Instant::now();
    while left > 0 {
        let n = left.min(chunk as u64) as usize;
        match call {
            Call::Plain => s.write_all(&buf[..n])?,
            Call::Msg => {
                let mut sent = 0;
                while sent < n {
                    sent += msg(s.as_raw_fd(), buf[sent..].as_mut_ptr(), n - sent, false)?;
                }
            }
        }
        left -= n as u64;
    }
    s.shutdown(Shutdown::Write)?;
    ensure!(s.read(&mut [0; 1])? == 0, "the peer sent data");
    Ok(start.elapsed().as_nanos() as u64)
}

/// Receives `bytes` in reads of `chunk`: ns.
pub fn recv(port: u16, bytes: u64, chunk: usize, call: Call) -> Result<u64> {
    let mut s = TcpStream::connect(loopback(port))?;
    let mut buf = vec![0_u8; chunk];
    let mut got = 0;
    let start = Instant::now();
    while got < bytes {
        let n = match call {
            Call::Plain => s.read(&mut buf)?,
            Call::Msg => msg(s.as_raw_fd(), buf.as_mut_ptr(), chunk, true)?,
        };
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    ensure!(got == bytes, "the peer closed early");
    Ok(start.elapsed().as_nanos() as u64)
}

/// `n` connections left open: ns, and the streams.
pub fn hold(port: u16, n: u64) -> Result<(u64, Vec<TcpStream>)> {
    let mut streams = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for _ in 0..n {
        streams.push(TcpStream::connect(loopback(port)).context("connect")?);
    }
    Ok((start.elapsed().as_nanos() as u64, streams))
}

/// The process's resident memory, bytes.
pub fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        lim.rlim_cur
    }
}
