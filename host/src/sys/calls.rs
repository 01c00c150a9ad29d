//! The socket calls: create, connect, bind, listen, accept, options,
//! send and receive, fd flags, `poll`, and the drain of a store's end.

use super::*;

/// `socket(family, type | SOCK_CLOEXEC, protocol)`.
pub(crate) fn socket(family: i32, socket_type: i32, protocol: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: plain syscall on integer arguments.
    let fd = cvt(unsafe { libc::socket(family, socket_type | libc::SOCK_CLOEXEC, protocol) })?;
    Ok(owned(fd))
}

/// `socketpair(family, type | SOCK_CLOEXEC, protocol)`.
pub(crate) fn socketpair(
    family: i32,
    socket_type: i32,
    protocol: i32,
) -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [-1 as c_int; 2];
    // SAFETY: `fds` has room for the two fds the kernel writes.
    cvt(unsafe {
        libc::socketpair(
            family,
            socket_type | libc::SOCK_CLOEXEC,
            protocol,
            fds.as_mut_ptr(),
        )
    })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// `close(fd)`, reporting its error (the fd is gone either way, as on Linux).
pub(crate) fn close(fd: OwnedFd) -> Result<(), Errno> {
    // SAFETY: we own `fd` and give it up here.
    cvt(unsafe { libc::close(fd.into_raw_fd()) }).map(drop)
}

/// `connect(fd, address)`.
pub(crate) fn connect(fd: BorrowedFd<'_>, address: &SockAddr) -> Result<(), Errno> {
    let raw = address.to_raw()?;
    // SAFETY: `raw` holds `raw.len` valid bytes of address.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), raw.as_ptr(), raw.len) }).map(drop)
}

/// `bind(fd, address)`.
pub(crate) fn bind(fd: BorrowedFd<'_>, address: &SockAddr) -> Result<(), Errno> {
    let raw = address.to_raw()?;
    // SAFETY: `raw` holds `raw.len` valid bytes of address.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), raw.as_ptr(), raw.len) }).map(drop)
}

/// `listen(fd, backlog)`.
pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: i32) -> Result<(), Errno> {
    // SAFETY: plain syscall on integer arguments.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// `accept4(fd, &addr, &len, flags | SOCK_CLOEXEC)`.
pub(crate) fn accept(fd: BorrowedFd<'_>, flags: i32) -> Result<(OwnedFd, SockAddr), Errno> {
    let mut raw = RawAddr::zeroed();
    // SAFETY: `raw` has room for `raw.len` bytes of address.
    let new = cvt(unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            raw.as_mut_ptr(),
            &mut raw.len,
            flags | libc::SOCK_CLOEXEC,
        )
    })?;
    Ok((owned(new), SockAddr::from_raw(&raw)))
}

/// `getsockname(fd)`.
pub(crate) fn getsockname(fd: BorrowedFd<'_>) -> Result<SockAddr, Errno> {
    let mut raw = RawAddr::zeroed();
    // SAFETY: `raw` has room for `raw.len` bytes of address.
    cvt(unsafe { libc::getsockname(fd.as_raw_fd(), raw.as_mut_ptr(), &mut raw.len) })?;
    Ok(SockAddr::from_raw(&raw))
}

/// `getpeername(fd)`.
pub(crate) fn getpeername(fd: BorrowedFd<'_>) -> Result<SockAddr, Errno> {
    let mut raw = RawAddr::zeroed();
    // SAFETY: `raw` has room for `raw.len` bytes of address.
    cvt(unsafe { libc::getpeername(fd.as_raw_fd(), raw.as_mut_ptr(), &mut raw.len) })?;
    Ok(SockAddr::from_raw(&raw))
}

/// `getsockopt(fd, level, name)` with a `length`-byte buffer: the bytes the kernel wrote.
pub(crate) fn getsockopt(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    length: usize,
) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; length];
    let mut len = libc::socklen_t::try_from(length).map_err(|_| libc::EINVAL)?;
    // SAFETY: `buf` has room for `len` bytes.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    buf.truncate(usize::try_from(len).unwrap_or(0));
    Ok(buf)
}

/// `setsockopt(fd, level, name, value, len(value))`.
pub(crate) fn setsockopt(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    value: &[u8],
) -> Result<(), Errno> {
    let len = libc::socklen_t::try_from(value.len()).map_err(|_| libc::EINVAL)?;
    // SAFETY: `value` holds `len` readable bytes.
    cvt(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), len) })
        .map(drop)
}

/// `setsockopt(fd, level, name, NULL, length)`.
pub(crate) fn setsockopt_null(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    length: libc::socklen_t,
) -> Result<(), Errno> {
    // SAFETY: a NULL value is for the kernel to judge (EFAULT at worst).
    cvt(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, std::ptr::null(), length) })
        .map(drop)
}

/// `send(fd, data, flags | MSG_NOSIGNAL)`.
pub(crate) fn send(fd: BorrowedFd<'_>, data: &[u8], flags: i32) -> Result<usize, Errno> {
    // SAFETY: `data` holds `data.len()` readable bytes.
    cvt_len(unsafe {
        libc::send(
            fd.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags | libc::MSG_NOSIGNAL,
        )
    })
}

/// `sendto(fd, data, flags | MSG_NOSIGNAL, address)`.
pub(crate) fn sendto(
    fd: BorrowedFd<'_>,
    data: &[u8],
    flags: i32,
    address: &SockAddr,
) -> Result<usize, Errno> {
    let raw = address.to_raw()?;
    // SAFETY: `data` holds `data.len()` readable bytes, `raw` a valid address.
    cvt_len(unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags | libc::MSG_NOSIGNAL,
            raw.as_ptr(),
            raw.len,
        )
    })
}

/// Runs a receive call on `length` bytes of fresh capacity and keeps what it wrote.
///
/// `MSG_TRUNC` can make the kernel report more than it wrote: only the bytes
/// written are kept.
pub(super) fn recv_into(
    length: usize,
    call: impl FnOnce(*mut c_void, usize) -> isize,
) -> Result<Vec<u8>, Errno> {
    let mut buf = Vec::<u8>::with_capacity(length);
    let got = cvt_len(call(buf.as_mut_ptr().cast(), length))?;
    // SAFETY: the kernel initialized the first `min(got, length)` bytes and
    // the capacity is at least `length`.
    unsafe { buf.set_len(got.min(length)) };
    Ok(buf)
}

/// `recv(fd, buf, length, flags)`: the bytes received.
pub(crate) fn recv(fd: BorrowedFd<'_>, length: usize, flags: i32) -> Result<Vec<u8>, Errno> {
    // SAFETY: `recv_into` passes a buffer with room for `len` bytes.
    recv_into(length, |ptr, len| unsafe {
        libc::recv(fd.as_raw_fd(), ptr, len, flags)
    })
}

/// `recvfrom(fd, buf, length, flags)`: the bytes and the sender's address.
pub(crate) fn recvfrom(
    fd: BorrowedFd<'_>,
    length: usize,
    flags: i32,
) -> Result<(Vec<u8>, SockAddr), Errno> {
    let mut raw = RawAddr::zeroed();
    // SAFETY: `recv_into` passes a buffer with room for `len` bytes; `raw`
    // has room for `raw.len` bytes of address.
    let data = recv_into(length, |ptr, len| unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            ptr,
            len,
            flags,
            raw.as_mut_ptr(),
            &mut raw.len,
        )
    })?;
    Ok((data, SockAddr::from_raw(&raw)))
}

/// `shutdown(fd, how)`.
pub(crate) fn shutdown(fd: BorrowedFd<'_>, how: i32) -> Result<(), Errno> {
    // SAFETY: plain syscall on integer arguments.
    cvt(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(drop)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`.
pub(crate) fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    rustix::io::fcntl_dupfd_cloexec(fd, 0).map_err(|e| e.raw_os_error())
}

/// Whether `FD_CLOEXEC` is set.
pub(crate) fn get_cloexec(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    let flags = rustix::io::fcntl_getfd(fd).map_err(|e| e.raw_os_error())?;
    Ok(flags.contains(rustix::io::FdFlags::CLOEXEC))
}

/// Sets or clears `FD_CLOEXEC`, keeping the other fd flags.
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>, cloexec: bool) -> Result<(), Errno> {
    let mut flags = rustix::io::fcntl_getfd(fd).map_err(|e| e.raw_os_error())?;
    flags.set(rustix::io::FdFlags::CLOEXEC, cloexec);
    rustix::io::fcntl_setfd(fd, flags).map_err(|e| e.raw_os_error())
}

/// Whether `O_NONBLOCK` is set on the open file.
pub(crate) fn get_nonblocking(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    let flags = rustix::fs::fcntl_getfl(fd).map_err(|e| e.raw_os_error())?;
    Ok(flags.contains(rustix::fs::OFlags::NONBLOCK))
}

/// Runs `call` with `O_NONBLOCK` set on `fd`'s open file, then puts the
/// flag back as it was: a `connect` or `accept` that must not block
/// (`wait.rs`), on a socket the guest keeps blocking.
pub(crate) fn with_nonblocking<R>(
    fd: BorrowedFd<'_>,
    call: impl FnOnce() -> Result<R, Errno>,
) -> Result<R, Errno> {
    if get_nonblocking(fd)? {
        return call();
    }
    set_nonblocking(fd, true)?;
    let result = call();
    let restored = set_nonblocking(fd, false);
    let result = result?;
    restored.map(|()| result)
}

/// The socket's `SO_SNDTIMEO` (`write`) or `SO_RCVTIMEO`: how long a
/// blocking call on it waits; `None` when it waits for ever.
pub(crate) fn socket_timeout(fd: BorrowedFd<'_>, write: bool) -> Option<std::time::Duration> {
    let name = if write {
        libc::SO_SNDTIMEO
    } else {
        libc::SO_RCVTIMEO
    };
    let len = mem::size_of::<libc::timeval>();
    let raw = getsockopt(fd, libc::SOL_SOCKET, name, len).ok()?;
    let (secs, usecs) = raw.split_at_checked(8)?;
    let secs = u64::try_from(i64::from_ne_bytes(secs.try_into().ok()?)).ok()?;
    let usecs = u64::try_from(i64::from_ne_bytes(usecs.get(..8)?.try_into().ok()?)).ok()?;
    let t = std::time::Duration::from_secs(secs) + std::time::Duration::from_micros(usecs);
    (!t.is_zero()).then_some(t)
}

/// `ioctl(fd, FIONBIO, &nonblocking)`.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> Result<(), Errno> {
    rustix::io::ioctl_fionbio(fd, nonblocking).map_err(|e| e.raw_os_error())
}

/// `poll` on one fd: its `revents`, 0 on timeout. A negative timeout waits for ever.
pub(crate) fn poll(fd: BorrowedFd<'_>, events: i16, timeout_ms: i32) -> Result<i16, Errno> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`.
    let n = cvt(unsafe { libc::poll(&mut pfd, 1, timeout_ms) })?;
    Ok(if n == 0 { 0 } else { pfd.revents })
}

/// `poll` over several fds: the `revents` of each, all 0 on timeout. A
/// `None` entry is passed as fd -1, which the kernel skips. A negative
/// timeout waits for ever.
pub(crate) fn poll_many(
    fds: &[(Option<BorrowedFd<'_>>, i16)],
    timeout_ms: i32,
) -> Result<Vec<i16>, Errno> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd: fd.map_or(-1, |fd| fd.as_raw_fd()),
            events,
            revents: 0,
        })
        .collect();
    let nfds = libc::nfds_t::try_from(pfds.len()).map_err(|_| libc::EINVAL)?;
    // SAFETY: `pfds` is `nfds` valid `pollfd`s, each fd either -1 or one
    // borrowed for the length of the call.
    let n = cvt(unsafe { libc::poll(pfds.as_mut_ptr(), nfds, timeout_ms) })?;
    Ok(pfds
        .iter()
        .map(|p| if n == 0 { 0 } else { p.revents })
        .collect())
}

/// The process's soft `RLIMIT_NOFILE` (`u64::MAX` when unlimited).
pub(crate) fn nofile_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX)
}

/// Turns `SO_LINGER` off on a socket where it is on with a time, so that
/// closing it cannot block.
pub(crate) fn linger_off(fd: BorrowedFd<'_>) {
    if lingers(fd) {
        let len = mem::size_of::<libc::linger>();
        let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, &vec![0; len]);
    }
}

/// The socket's `SO_TYPE`, if it has one.
pub(crate) fn socket_type(fd: BorrowedFd<'_>) -> Option<i32> {
    let raw = getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, 4).ok()?;
    Some(i32::from_ne_bytes(raw.try_into().ok()?))
}

/// Whether closing `fd` waits: `SO_LINGER` on with a time.
pub(crate) fn lingers(fd: BorrowedFd<'_>) -> bool {
    let len = mem::size_of::<libc::linger>();
    match getsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, len) {
        Ok(raw) if raw.len() == len => {
            let onoff = i32::from_ne_bytes(raw[..4].try_into().unwrap_or_default());
            let secs = i32::from_ne_bytes(raw[4..8].try_into().unwrap_or_default());
            onoff != 0 && secs != 0
        }
        _ => false,
    }
}

/// Takes every fd in flight in a unix socket's receive queue (what the
/// messages waiting there carry, `SCM_RIGHTS` and `SCM_PIDFD`), and from a
/// unix listener the connections waiting to be accepted (whose queues can
/// hold fds too), without waiting; nothing for other sockets. The data
/// read with them is dropped: this is for a store's end.
pub(crate) fn drain_rights(fd: BorrowedFd<'_>) -> Vec<OwnedFd> {
    let mut fds = Vec::new();
    if !matches!(getsockname(fd), Ok(SockAddr::Unix(_))) {
        return fds;
    }
    // Bounded: the queue is bounded by the socket's buffer (a message
    // takes hundreds of bytes of it) and cannot grow from inside the
    // store as it ends; the bound guards against a peer outside that
    // keeps sending.
    for _ in 0..4096 {
        match recvmsg(
            fd,
            64 << 10,
            64 << 10,
            libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let before = fds.len();
                for item in &msg.ancillary {
                    if item.level == libc::SOL_SOCKET
                        && (item.kind == libc::SCM_RIGHTS || item.kind == SCM_PIDFD)
                    {
                        fds.extend(scm_rights_fds(&item.data).map(adopt_fd));
                    }
                }
                if msg.length == 0 && fds.len() == before {
                    break;
                }
            }
            // A listener: its pending connections are sockets too.
            Err(libc::EINVAL) => {
                // At most `somaxconn` (4096) connections wait.
                while fds.len() < 4096
                    && poll(fd, libc::POLLIN, 0).is_ok_and(|ready| ready & libc::POLLIN != 0)
                    && let Ok((conn, _)) = accept(fd, libc::SOCK_CLOEXEC)
                {
                    fds.push(conn);
                }
                break;
            }
            Err(_) => break,
        }
    }
    fds
}

/// `SCM_PIDFD` (Linux 6.5): a control message carrying a pidfd the kernel
/// installed in the process.
pub(crate) const SCM_PIDFD: i32 = 4;
