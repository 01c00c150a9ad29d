//! The native layer: one host system call (or C library call) per function,
//! failing with the host's real `errno`.
//!
//! Nothing here knows about stores, policy or bindings: fds are borrowed from
//! the caller, who owns them. Nothing here retries on `EINTR` either: the
//! guest decides what an interrupted call means (PEP 475).

use std::ffi::{CStr, CString, c_int, c_void};
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// A native `errno` value.
pub(crate) type Errno = i32;

/// The `errno` the last failed libc call left behind.
fn last_errno() -> Errno {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Turns a `-1`-on-failure return value into a `Result`.
fn cvt(ret: c_int) -> Result<c_int, Errno> {
    if ret == -1 {
        Err(last_errno())
    } else {
        Ok(ret)
    }
}

/// Turns a `-1`-on-failure byte count into a `Result`.
fn cvt_len(ret: isize) -> Result<usize, Errno> {
    usize::try_from(ret).map_err(|_| last_errno())
}

/// Takes ownership of an fd the kernel just returned.
fn owned(fd: c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall that creates a
    // new descriptor, so it is open and nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `sizeof(struct sockaddr_storage)`.
const STORAGE_LEN: usize = mem::size_of::<libc::sockaddr_storage>();
/// `offsetof(struct sockaddr_un, sun_path)`: the family field.
const SUN_PATH_OFFSET: usize = mem::offset_of!(libc::sockaddr_un, sun_path);
/// `sizeof(((struct sockaddr_un *)0)->sun_path)`.
const SUN_PATH_LEN: usize = mem::size_of::<libc::sockaddr_un>() - SUN_PATH_OFFSET;
/// Bytes after the family field that fit in a `sockaddr_storage`.
const OTHER_MAX_LEN: usize = STORAGE_LEN - SUN_PATH_OFFSET;

/// A socket address, as the kernel takes and returns it (mirrors the WIT
/// `sockaddr` variant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SockAddr {
    /// `AF_UNSPEC`, passed as the family field alone.
    Unspec,
    /// `struct sockaddr_in`.
    Inet(SocketAddrV4),
    /// `struct sockaddr_in6`; `flowinfo` in host byte order.
    Inet6(SocketAddrV6),
    /// The bytes of `sun_path` (see [`SockAddr::to_raw`] for their length rules).
    Unix(Vec<u8>),
    /// Another family: its number and the bytes after the family field.
    Other(i32, Vec<u8>),
}

/// A `sockaddr_storage` with the length to pass along with it.
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    fn zeroed() -> RawAddr {
        RawAddr {
            // SAFETY: `sockaddr_storage` is plain old data; all zeroes is valid.
            storage: unsafe { mem::zeroed() },
            len: STORAGE_LEN as libc::socklen_t,
        }
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }

    fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&raw mut self.storage).cast()
    }

    fn bytes_mut(&mut self) -> &mut [u8; STORAGE_LEN] {
        // SAFETY: `sockaddr_storage` is plain old data of exactly
        // `STORAGE_LEN` bytes, suitably aligned for `u8`.
        unsafe { &mut *(&raw mut self.storage).cast::<[u8; STORAGE_LEN]>() }
    }

    fn bytes(&self) -> &[u8; STORAGE_LEN] {
        // SAFETY: as in `bytes_mut`.
        unsafe { &*(&raw const self.storage).cast::<[u8; STORAGE_LEN]>() }
    }
}

impl SockAddr {
    /// Encodes the address for the kernel.
    ///
    /// Unix pathnames get a NUL terminator and `addrlen =
    /// offsetof(sun_path) + len + 1`; abstract names (first byte NUL) and the
    /// empty name (autobind) get `offsetof(sun_path) + len`. A name that does
    /// not fit `sun_path` is `EINVAL`, as is an `other` address too long for
    /// a `sockaddr_storage`; an `other` family outside `sa_family_t` is
    /// `EAFNOSUPPORT`.
    pub(crate) fn to_raw(&self) -> Result<RawAddr, Errno> {
        let mut raw = RawAddr::zeroed();
        let len = match self {
            SockAddr::Unspec => {
                raw.storage.ss_family = libc::AF_UNSPEC as libc::sa_family_t;
                mem::size_of::<libc::sa_family_t>()
            }
            SockAddr::Inet(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `sockaddr_storage` is larger than and aligned for
                // every sockaddr type.
                unsafe { raw.as_mut_ptr().cast::<libc::sockaddr_in>().write(sin) };
                mem::size_of::<libc::sockaddr_in>()
            }
            SockAddr::Inet6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo().to_be(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above.
                unsafe { raw.as_mut_ptr().cast::<libc::sockaddr_in6>().write(sin6) };
                mem::size_of::<libc::sockaddr_in6>()
            }
            SockAddr::Unix(path) => {
                let pathname = path.first().is_some_and(|&b| b != 0);
                let needed = path.len() + usize::from(pathname);
                if needed > SUN_PATH_LEN {
                    return Err(libc::EINVAL);
                }
                raw.storage.ss_family = libc::AF_UNIX as libc::sa_family_t;
                // The storage is zeroed, so a pathname is NUL-terminated.
                raw.bytes_mut()[SUN_PATH_OFFSET..SUN_PATH_OFFSET + path.len()]
                    .copy_from_slice(path);
                SUN_PATH_OFFSET + needed
            }
            SockAddr::Other(family, data) => {
                let family =
                    libc::sa_family_t::try_from(*family).map_err(|_| libc::EAFNOSUPPORT)?;
                if data.len() > OTHER_MAX_LEN {
                    return Err(libc::EINVAL);
                }
                raw.storage.ss_family = family;
                raw.bytes_mut()[SUN_PATH_OFFSET..SUN_PATH_OFFSET + data.len()]
                    .copy_from_slice(data);
                SUN_PATH_OFFSET + data.len()
            }
        };
        raw.len = len as libc::socklen_t;
        Ok(raw)
    }

    /// Decodes what the kernel returned. An `addrlen` shorter than the
    /// family field is `Unspec`; an `AF_INET`/`AF_INET6` address too short
    /// for its struct is returned as `Other`.
    pub(crate) fn from_raw(raw: &RawAddr) -> SockAddr {
        let len = usize::try_from(raw.len).unwrap_or(0).min(STORAGE_LEN);
        if len < SUN_PATH_OFFSET {
            return SockAddr::Unspec;
        }
        let family = c_int::from(raw.storage.ss_family);
        let tail = &raw.bytes()[SUN_PATH_OFFSET..len];
        match family {
            libc::AF_UNSPEC => SockAddr::Unspec,
            libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the kernel wrote a `sockaddr_in` (family and length checked).
                let sin = unsafe { &*raw.as_ptr().cast::<libc::sockaddr_in>() };
                SockAddr::Inet(SocketAddrV4::new(
                    Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                    u16::from_be(sin.sin_port),
                ))
            }
            libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: the kernel wrote a `sockaddr_in6` (family and length checked).
                let sin6 = unsafe { &*raw.as_ptr().cast::<libc::sockaddr_in6>() };
                SockAddr::Inet6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    u32::from_be(sin6.sin6_flowinfo),
                    sin6.sin6_scope_id,
                ))
            }
            libc::AF_UNIX => SockAddr::Unix(tail.to_vec()),
            _ => SockAddr::Other(family, tail.to_vec()),
        }
    }
}

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
fn recv_into(
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
    let len = mem::size_of::<libc::linger>();
    if let Ok(raw) = getsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, len)
        && raw.len() == len
    {
        let onoff = i32::from_ne_bytes(raw[..4].try_into().unwrap_or_default());
        let secs = i32::from_ne_bytes(raw[4..8].try_into().unwrap_or_default());
        if onoff != 0 && secs != 0 {
            let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, &vec![0; len]);
        }
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

/// `gethostname()`.
pub(crate) fn gethostname() -> Result<String, Errno> {
    // Linux host names are at most 64 bytes (`HOST_NAME_MAX`); leave room.
    let mut buf = [0u8; 256];
    // SAFETY: `buf` has room for `buf.len()` bytes.
    cvt(unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) })?;
    let name = CStr::from_bytes_until_nul(&buf).map_err(|_| libc::ENAMETOOLONG)?;
    Ok(name.to_string_lossy().into_owned())
}

/// `clock_gettime(CLOCK_MONOTONIC)`, in nanoseconds.
pub(crate) fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// `strerror(errno)`: the C library's text (`Connection refused`; `Unknown
/// error 999` for a number it does not know).
pub(crate) fn strerror(errno: Errno) -> String {
    let mut buf = [0u8; 1024];
    // SAFETY: `buf` has room for `buf.len()` bytes; the XSI `strerror_r`
    // always NUL-terminates what it writes.
    let ret = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    match CStr::from_bytes_until_nul(&buf) {
        Ok(text) if !text.is_empty() => text.to_string_lossy().into_owned(),
        _ => format!("Unknown error {errno} ({ret})"),
    }
}

/// A failed name lookup: the WIT `gai-error` (`getaddrinfo`, `getnameinfo`)
/// and `host-error` (`gethostbyname`, `gethostbyaddr`) have the same fields;
/// only the meaning of `code` and the constructors differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LookupError {
    /// The `EAI_*` code, or the `h_errno` (0 when `errno` says what failed).
    pub(crate) code: i32,
    /// `gai_strerror(code)` or `hstrerror(code)`, or `strerror(errno)`.
    pub(crate) message: String,
    /// The errno behind `EAI_SYSTEM` or behind a host lookup's failure.
    pub(crate) errno: Option<Errno>,
}

/// A failed `getaddrinfo`/`getnameinfo` (mirrors the WIT `gai-error`): made
/// by [`LookupError::from_code`] or [`LookupError::system`].
pub(crate) type GaiError = LookupError;

/// A failed host lookup (mirrors the WIT `host-error`): made by
/// [`LookupError::h_errno`] or [`LookupError::errno`].
pub(crate) type HostError = LookupError;

impl LookupError {
    /// A code and its text.
    fn described(code: i32, text: &CStr) -> LookupError {
        LookupError {
            code,
            message: text.to_string_lossy().into_owned(),
            errno: None,
        }
    }

    /// An errno, with `code` beside it.
    fn with_errno(code: i32, errno: Errno) -> LookupError {
        LookupError {
            code,
            message: strerror(errno),
            errno: Some(errno),
        }
    }

    /// The error for a code `getaddrinfo`/`getnameinfo` returned; `errno` is
    /// read for `EAI_SYSTEM` only.
    pub(crate) fn from_code(code: i32, errno: Errno) -> GaiError {
        if code == libc::EAI_SYSTEM {
            return LookupError::system(errno);
        }
        // SAFETY: `gai_strerror` returns a static string for any code.
        let text = unsafe { CStr::from_ptr(libc::gai_strerror(code)) };
        LookupError::described(code, text)
    }

    /// `EAI_SYSTEM` for `errno`.
    pub(crate) fn system(errno: Errno) -> GaiError {
        LookupError::with_errno(libc::EAI_SYSTEM, errno)
    }

    /// A host lookup's `h_errno`.
    fn h_errno(code: i32) -> HostError {
        // SAFETY: `hstrerror` returns a static string for any code.
        let text = unsafe { CStr::from_ptr(libc::hstrerror(code)) };
        LookupError::described(code, text)
    }

    /// A host lookup's errno instead of an `h_errno` (code 0).
    pub(crate) fn errno(errno: Errno) -> HostError {
        LookupError::with_errno(0, errno)
    }
}

/// One `getaddrinfo` result (mirrors the WIT `addrinfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AddrInfo {
    pub(crate) family: i32,
    pub(crate) socket_type: i32,
    pub(crate) protocol: i32,
    pub(crate) canonname: Option<String>,
    pub(crate) address: SockAddr,
}

/// A C string for a lookup argument; a string with a NUL inside cannot be
/// passed to C at all and is `EAI_SYSTEM`/`EINVAL`.
fn lookup_cstring(s: Option<&str>) -> Result<Option<CString>, GaiError> {
    s.map(|s| CString::new(s).map_err(|_| GaiError::system(libc::EINVAL)))
        .transpose()
}

/// `getaddrinfo(host, port, hints)`.
pub(crate) fn getaddrinfo(
    host: Option<&str>,
    port: Option<&str>,
    family: i32,
    socket_type: i32,
    protocol: i32,
    flags: i32,
) -> Result<Vec<AddrInfo>, GaiError> {
    let host = lookup_cstring(host)?;
    let port = lookup_cstring(port)?;
    // SAFETY: `addrinfo` is plain old data; all zeroes (NULL pointers) is valid.
    let mut hints: libc::addrinfo = unsafe { mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socket_type;
    hints.ai_protocol = protocol;
    hints.ai_flags = flags;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the strings are NUL-terminated or NULL, `hints` is valid and
    // `res` receives a list we free below.
    let code = unsafe {
        libc::getaddrinfo(
            host.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            port.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        )
    };
    if code != 0 {
        return Err(GaiError::from_code(code, last_errno()));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list `getaddrinfo` returned.
        let ai = unsafe { &*cur };
        let mut raw = RawAddr::zeroed();
        let len = usize::try_from(ai.ai_addrlen).unwrap_or(0).min(STORAGE_LEN);
        if !ai.ai_addr.is_null() {
            // SAFETY: `ai_addr` points to `ai_addrlen` bytes of address.
            let src = unsafe { std::slice::from_raw_parts(ai.ai_addr.cast::<u8>(), len) };
            raw.bytes_mut()[..len].copy_from_slice(src);
            raw.len = len as libc::socklen_t;
        } else {
            raw.len = 0;
        }
        let canonname = (!ai.ai_canonname.is_null()).then(|| {
            // SAFETY: a non-NULL `ai_canonname` is a C string.
            unsafe { CStr::from_ptr(ai.ai_canonname) }
                .to_string_lossy()
                .into_owned()
        });
        out.push(AddrInfo {
            family: ai.ai_family,
            socket_type: ai.ai_socktype,
            protocol: ai.ai_protocol,
            canonname,
            address: SockAddr::from_raw(&raw),
        });
        cur = ai.ai_next;
    }
    // SAFETY: `res` is the list `getaddrinfo` returned, freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

/// `getnameinfo(address, flags)`: the host and the service.
pub(crate) fn getnameinfo(address: &SockAddr, flags: i32) -> Result<(String, String), GaiError> {
    let raw = address.to_raw().map_err(GaiError::system)?;
    let mut host = [0u8; libc::NI_MAXHOST as usize];
    let mut serv = [0u8; NI_MAXSERV];
    // SAFETY: `raw` is a valid address; the buffers have the lengths passed.
    let code = unsafe {
        libc::getnameinfo(
            raw.as_ptr(),
            raw.len,
            host.as_mut_ptr().cast(),
            host.len() as libc::socklen_t,
            serv.as_mut_ptr().cast(),
            serv.len() as libc::socklen_t,
            flags,
        )
    };
    if code != 0 {
        return Err(GaiError::from_code(code, last_errno()));
    }
    let text = |buf: &[u8]| {
        CStr::from_bytes_until_nul(buf)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    Ok((text(&host), text(&serv)))
}

/// One ancillary data item (mirrors the WIT `cmsg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cmsg {
    pub(crate) level: i32,
    pub(crate) kind: i32,
    pub(crate) data: Vec<u8>,
}

/// What one `recvmsg` received (mirrors the WIT `message`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) data: Vec<u8>,
    /// What the call returned (more than `data.len()` with `MSG_TRUNC`).
    pub(crate) length: usize,
    pub(crate) ancillary: Vec<Cmsg>,
    pub(crate) flags: i32,
    pub(crate) address: SockAddr,
}

/// `CMSG_SPACE(len)`, or `EINVAL` when it does not fit a C unsigned int.
fn cmsg_space(len: usize) -> Result<usize, Errno> {
    let len = u32::try_from(len).map_err(|_| libc::EINVAL)?;
    // SAFETY: pure arithmetic.
    Ok(unsafe { libc::CMSG_SPACE(len) } as usize)
}

/// `sendmsg(fd, msg, flags | MSG_NOSIGNAL)`.
pub(crate) fn sendmsg(
    fd: BorrowedFd<'_>,
    buffers: &[&[u8]],
    ancillary: &[&Cmsg],
    flags: i32,
    address: Option<&SockAddr>,
) -> Result<usize, Errno> {
    let raw = address.map(SockAddr::to_raw).transpose()?;
    let mut iov: Vec<libc::iovec> = buffers
        .iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr().cast_mut().cast(),
            iov_len: b.len(),
        })
        .collect();
    let space = ancillary.iter().try_fold(0usize, |acc, c| {
        Ok::<_, Errno>(acc.saturating_add(cmsg_space(c.data.len())?))
    })?;
    // `u64` elements keep the control buffer aligned for `cmsghdr`.
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: `msghdr` is plain old data; all zeroes is valid.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    if let Some(raw) = &raw {
        msg.msg_name = raw.as_ptr().cast_mut().cast();
        msg.msg_namelen = raw.len;
    }
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len() as _;
    if space > 0 {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer has room for every item's
        // `CMSG_SPACE`, so `CMSG_FIRSTHDR`/`CMSG_NXTHDR` stay inside it.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            for item in ancillary {
                if cmsg.is_null() {
                    return Err(libc::EINVAL);
                }
                (*cmsg).cmsg_level = item.level;
                (*cmsg).cmsg_type = item.kind;
                (*cmsg).cmsg_len = libc::CMSG_LEN(item.data.len() as u32) as _;
                std::ptr::copy_nonoverlapping(
                    item.data.as_ptr(),
                    libc::CMSG_DATA(cmsg),
                    item.data.len(),
                );
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
    }
    // SAFETY: every pointer in `msg` is valid for the lengths given.
    cvt_len(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags | libc::MSG_NOSIGNAL) })
}

/// `recvmsg(fd, msg, flags)` with `length` bytes of data buffer and
/// `ancillary_length` bytes of control buffer.
///
/// Received fds (`SCM_RIGHTS`) are returned as they are in the data: the
/// caller must take ownership of them (see [`scm_rights_fds`]).
pub(crate) fn recvmsg(
    fd: BorrowedFd<'_>,
    length: usize,
    ancillary_length: usize,
    flags: i32,
) -> Result<Message, Errno> {
    let mut buf = Vec::<u8>::with_capacity(length);
    let mut control = vec![0u64; ancillary_length.div_ceil(8)];
    let mut raw = RawAddr::zeroed();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: length,
    };
    // SAFETY: `msghdr` is plain old data; all zeroes is valid.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = raw.as_mut_ptr().cast();
    msg.msg_namelen = raw.len;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if ancillary_length > 0 {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = ancillary_length as _;
    }
    // SAFETY: every pointer in `msg` is valid for the lengths given.
    let got = cvt_len(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) })?;
    // SAFETY: the kernel initialized the first `min(got, length)` bytes.
    unsafe { buf.set_len(got.min(length)) };
    raw.len = msg.msg_namelen.min(STORAGE_LEN as libc::socklen_t);
    let mut ancillary = Vec::new();
    let control_end = (control.as_ptr() as usize).saturating_add(msg.msg_controllen as usize);
    // SAFETY: the kernel wrote `msg_controllen` bytes of well-formed
    // headers; each item's data is clamped to what lies inside the buffer
    // (a truncated last item, `MSG_CTRUNC`).
    unsafe {
        let mut cmsg = if msg.msg_controllen == 0 {
            std::ptr::null_mut()
        } else {
            libc::CMSG_FIRSTHDR(&msg)
        };
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            let header_end = data as usize;
            let item_end = (cmsg as usize).saturating_add((*cmsg).cmsg_len as usize);
            let len = item_end.min(control_end).saturating_sub(header_end);
            ancillary.push(Cmsg {
                level: (*cmsg).cmsg_level,
                kind: (*cmsg).cmsg_type,
                data: std::slice::from_raw_parts(data, len).to_vec(),
            });
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    let address = if msg.msg_namelen == 0 {
        SockAddr::Unspec
    } else {
        SockAddr::from_raw(&raw)
    };
    Ok(Message {
        data: buf,
        length: got,
        ancillary,
        flags: msg.msg_flags,
        address,
    })
}

/// The fds in an `SCM_RIGHTS` item's data (whole C ints only).
pub(crate) fn scm_rights_fds(data: &[u8]) -> impl Iterator<Item = RawFd> + '_ {
    const N: usize = mem::size_of::<c_int>();
    data.as_chunks::<N>()
        .0
        .iter()
        .map(|c| c_int::from_ne_bytes(*c))
}

/// Takes ownership of an fd the kernel just installed in this process
/// (`SCM_RIGHTS`).
pub(crate) fn adopt_fd(fd: RawFd) -> OwnedFd {
    owned(fd)
}

/// The length of the next message on a datagram or seqpacket socket, without
/// taking it: `recv(fd, buf, 1, flags | MSG_PEEK | MSG_TRUNC)` (Linux then
/// returns the real length).
pub(crate) fn next_message_len(fd: BorrowedFd<'_>, flags: i32) -> Result<usize, Errno> {
    let mut byte = [0u8; 1];
    // SAFETY: `byte` has room for 1 byte.
    cvt_len(unsafe {
        libc::recv(
            fd.as_raw_fd(),
            byte.as_mut_ptr().cast(),
            1,
            (flags & !libc::MSG_TRUNC) | libc::MSG_PEEK | libc::MSG_TRUNC,
        )
    })
}

// The reentrant host and service database calls: glibc (and musl) have
// them, the `libc` crate does not declare them for Linux.
unsafe extern "C" {
    fn gethostbyname_r(
        name: *const libc::c_char,
        ret: *mut libc::hostent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn gethostbyaddr_r(
        addr: *const c_void,
        len: libc::socklen_t,
        kind: c_int,
        ret: *mut libc::hostent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn getservbyname_r(
        name: *const libc::c_char,
        proto: *const libc::c_char,
        ret: *mut libc::servent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
    fn getservbyport_r(
        port: c_int,
        proto: *const libc::c_char,
        ret: *mut libc::servent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
}

/// A host database entry (mirrors the WIT `hostent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostEnt {
    pub(crate) name: String,
    pub(crate) aliases: Vec<String>,
    pub(crate) addresses: Vec<SockAddr>,
}

/// The largest buffer the reentrant lookups get (they say `ERANGE` until
/// the buffer is big enough).
const MAX_LOOKUP_BUF: usize = 1 << 20;

/// Copies a `hostent` out of C memory.
///
/// # Safety
///
/// `h` must be a valid `hostent` whose strings and lists are alive.
unsafe fn copy_hostent(h: &libc::hostent) -> HostEnt {
    let text = |p: *const libc::c_char| {
        // SAFETY: (caller) the strings of `h` are valid C strings.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    };
    let mut aliases = Vec::new();
    let mut addresses = Vec::new();
    // SAFETY: (caller) NULL-terminated lists of valid pointers.
    unsafe {
        let mut p = h.h_aliases;
        while !p.is_null() && !(*p).is_null() {
            aliases.push(text(*p));
            p = p.add(1);
        }
        let mut p = h.h_addr_list;
        while !p.is_null() && !(*p).is_null() {
            let a = (*p).cast::<u8>();
            match (h.h_addrtype, h.h_length) {
                (libc::AF_INET, 4) => {
                    let b = std::slice::from_raw_parts(a, 4);
                    addresses.push(SockAddr::Inet(SocketAddrV4::new(
                        Ipv4Addr::new(b[0], b[1], b[2], b[3]),
                        0,
                    )));
                }
                (libc::AF_INET6, 16) => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(std::slice::from_raw_parts(a, 16));
                    addresses.push(SockAddr::Inet6(SocketAddrV6::new(
                        Ipv6Addr::from(b),
                        0,
                        0,
                        0,
                    )));
                }
                _ => {}
            }
            p = p.add(1);
        }
    }
    HostEnt {
        name: if h.h_name.is_null() {
            String::new()
        } else {
            text(h.h_name)
        },
        aliases,
        addresses,
    }
}

/// Runs a reentrant `hostent` lookup with a growing buffer.
fn host_lookup(
    mut call: impl FnMut(
        *mut libc::hostent,
        *mut libc::c_char,
        usize,
        *mut *mut libc::hostent,
        *mut c_int,
    ) -> c_int,
) -> Result<HostEnt, HostError> {
    let mut len = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; len];
        // SAFETY: `hostent` is plain old data; all zeroes is valid.
        let mut ent: libc::hostent = unsafe { mem::zeroed() };
        let mut result: *mut libc::hostent = std::ptr::null_mut();
        let mut h_errno: c_int = 0;
        let rc = call(&mut ent, buf.as_mut_ptr(), len, &mut result, &mut h_errno);
        if rc == libc::ERANGE && len < MAX_LOOKUP_BUF {
            len *= 4;
            continue;
        }
        if result.is_null() {
            return Err(HostError::h_errno(if h_errno == 0 { 1 } else { h_errno }));
        }
        // SAFETY: `result` points to `ent`, whose data lives in `buf`.
        return Ok(unsafe { copy_hostent(&*result) });
    }
}

/// `gethostbyname_r(name)`.
pub(crate) fn gethostbyname(name: &str) -> Result<HostEnt, HostError> {
    let name = CString::new(name).map_err(|_| HostError::h_errno(1))?;
    host_lookup(|ent, buf, len, result, h_errno| {
        // SAFETY: the pointers are valid for the lengths given.
        unsafe { gethostbyname_r(name.as_ptr(), ent, buf, len, result, h_errno) }
    })
}

/// `gethostbyaddr_r(address)` for an IPv4 or IPv6 address.
pub(crate) fn gethostbyaddr(address: &SockAddr) -> Result<HostEnt, HostError> {
    let (bytes, family): (Vec<u8>, c_int) = match address {
        SockAddr::Inet(a) => (a.ip().octets().to_vec(), libc::AF_INET),
        SockAddr::Inet6(a) => (a.ip().octets().to_vec(), libc::AF_INET6),
        _ => return Err(HostError::errno(libc::EAFNOSUPPORT)),
    };
    host_lookup(|ent, buf, len, result, h_errno| {
        // SAFETY: the pointers are valid for the lengths given.
        unsafe {
            gethostbyaddr_r(
                bytes.as_ptr().cast(),
                bytes.len() as libc::socklen_t,
                family,
                ent,
                buf,
                len,
                result,
                h_errno,
            )
        }
    })
}

/// Runs a reentrant `servent` lookup; `None` when not found.
fn serv_lookup(
    mut call: impl FnMut(*mut libc::servent, *mut libc::c_char, usize, *mut *mut libc::servent) -> c_int,
) -> Option<(String, u16)> {
    let mut len = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; len];
        // SAFETY: `servent` is plain old data; all zeroes is valid.
        let mut ent: libc::servent = unsafe { mem::zeroed() };
        let mut result: *mut libc::servent = std::ptr::null_mut();
        let rc = call(&mut ent, buf.as_mut_ptr(), len, &mut result);
        if rc == libc::ERANGE && len < MAX_LOOKUP_BUF {
            len *= 4;
            continue;
        }
        if result.is_null() {
            return None;
        }
        // SAFETY: `result` points to `ent`, whose strings live in `buf`.
        let ent = unsafe { &*result };
        // SAFETY: `s_name` is a valid C string.
        let name = unsafe { CStr::from_ptr(ent.s_name) }
            .to_string_lossy()
            .into_owned();
        // `s_port` is in network byte order, in the low 16 bits.
        return Some((name, u16::from_be(ent.s_port as u16)));
    }
}

/// `getservbyname_r(name, proto)`: the port.
pub(crate) fn getservbyname(name: &str, proto: Option<&str>) -> Option<u16> {
    let name = CString::new(name).ok()?;
    let proto = proto.map(CString::new).transpose().ok()?;
    serv_lookup(|ent, buf, len, result| {
        // SAFETY: the pointers are valid for the lengths given.
        unsafe {
            getservbyname_r(
                name.as_ptr(),
                proto.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                ent,
                buf,
                len,
                result,
            )
        }
    })
    .map(|(_, port)| port)
}

/// `getservbyport_r(htons(port), proto)`: the service name.
pub(crate) fn getservbyport(port: u16, proto: Option<&str>) -> Option<String> {
    let proto = proto.map(CString::new).transpose().ok()?;
    serv_lookup(|ent, buf, len, result| {
        // SAFETY: the pointers are valid for the lengths given.
        unsafe {
            getservbyport_r(
                c_int::from(port.to_be()),
                proto.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                ent,
                buf,
                len,
                result,
            )
        }
    })
    .map(|(name, _)| name)
}

/// glibc's `NI_MAXSERV` (`<netdb.h>`), which the `libc` crate lacks on Linux.
const NI_MAXSERV: usize = 32;

/// Constants that glibc's headers define and the `libc` crate does not
/// export for Linux. The values are glibc's (`<netdb.h>`, `<netinet/in.h>`,
/// `<bits/errno.h>`), stable Linux ABI.
mod extra {
    pub const NI_MAXSERV: i64 = super::NI_MAXSERV as i64;
    pub const AI_IDN: i64 = 0x0040;
    pub const AI_CANONIDN: i64 = 0x0080;
    pub const EAI_ADDRFAMILY: i64 = -9;
    pub const EAI_INPROGRESS: i64 = -100;
    pub const EAI_CANCELED: i64 = -101;
    pub const EAI_NOTCANCELED: i64 = -102;
    pub const EAI_ALLDONE: i64 = -103;
    pub const EAI_INTR: i64 = -104;
    pub const EAI_IDN_ENCODE: i64 = -105;
    /// glibc's name for `IPV6_ADD_MEMBERSHIP`.
    pub const IPV6_JOIN_GROUP: i64 = libc::IPV6_ADD_MEMBERSHIP as i64;
    /// glibc's name for `IPV6_DROP_MEMBERSHIP`.
    pub const IPV6_LEAVE_GROUP: i64 = libc::IPV6_DROP_MEMBERSHIP as i64;
    /// `sizeof(((struct sockaddr_un *)0)->sun_path)`: the longest unix
    /// address, which the guest checks before any syscall.
    pub const SUN_PATH_SIZE: i64 = (std::mem::size_of::<libc::sockaddr_un>()
        - std::mem::offset_of!(libc::sockaddr_un, sun_path))
        as i64;
    /// `POLLMSG` (`asm-generic/poll.h`), which `libc` does not define.
    pub const POLLMSG: i64 = 0x400;
    /// `FD_SETSIZE`: the fds `select()` can take are below it.
    pub const FD_SETSIZE: i64 = libc::FD_SETSIZE as i64;
}

/// Builds the `(name, value)` table from constant names.
macro_rules! constants {
    ( libc: [ $($name:ident),* $(,)? ], extra: [ $($ename:ident),* $(,)? ] $(,)? ) => {
        &[
            $( (stringify!($name), libc::$name as i64), )*
            $( (stringify!($ename), extra::$ename), )*
        ]
    };
}

/// The host's constants, by their C names (what the WIT `constants` returns).
/// The value of constant `name` in [`CONSTANTS`], through an index built
/// on first use.
pub(crate) fn constant(name: &str) -> Option<i64> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<&str, i64>> =
        std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| CONSTANTS.iter().copied().collect())
        .get(name)
        .copied()
}

pub(crate) static CONSTANTS: &[(&str, i64)] = constants! {
    libc: [
        // Address families.
        AF_UNSPEC, AF_UNIX, AF_LOCAL, AF_INET, AF_INET6, AF_PACKET, AF_NETLINK,
        AF_BLUETOOTH, AF_CAN, AF_ALG, AF_VSOCK, AF_TIPC, AF_RDS, AF_APPLETALK,
        AF_IPX, AF_X25, AF_AX25, AF_KEY, AF_ROUTE, AF_IRDA, AF_SNA, AF_DECnet,
        AF_NETROM, AF_ROSE, AF_WANPIPE, AF_LLC, AF_IB, AF_MPLS,
        AF_XDP, AF_PPPOX, AF_BRIDGE, AF_ATMPVC, AF_ATMSVC, AF_ISDN,
        PF_UNSPEC, PF_UNIX, PF_INET, PF_INET6, PF_PACKET, PF_NETLINK,
        // Socket types and flags.
        SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET,
        SOCK_NONBLOCK, SOCK_CLOEXEC,
        // Levels.
        SOL_SOCKET, SOL_TCP, SOL_UDP, SOL_IP, SOL_IPV6, SOL_ICMPV6, SOL_RAW,
        SOL_PACKET, SOL_NETLINK, SOL_ALG, SOL_TIPC, SOL_TLS,
        // Socket options.
        SO_DEBUG, SO_REUSEADDR, SO_REUSEPORT, SO_TYPE, SO_ERROR, SO_DONTROUTE,
        SO_BROADCAST, SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE,
        SO_KEEPALIVE, SO_OOBINLINE, SO_NO_CHECK, SO_PRIORITY, SO_LINGER,
        SO_BSDCOMPAT, SO_PASSCRED, SO_PEERCRED, SO_RCVLOWAT, SO_SNDLOWAT,
        SO_RCVTIMEO, SO_SNDTIMEO, SO_BINDTODEVICE, SO_ATTACH_FILTER,
        SO_DETACH_FILTER, SO_PEERNAME, SO_TIMESTAMP, SO_ACCEPTCONN, SO_PEERSEC,
        SO_PASSSEC, SO_TIMESTAMPNS, SO_MARK, SO_TIMESTAMPING, SO_PROTOCOL,
        SO_DOMAIN, SO_RXQ_OVFL, SO_WIFI_STATUS, SO_PEEK_OFF, SO_NOFCS,
        SO_LOCK_FILTER, SO_SELECT_ERR_QUEUE, SO_BUSY_POLL, SO_MAX_PACING_RATE,
        SO_INCOMING_CPU, SO_ATTACH_BPF, SO_DETACH_BPF, SO_COOKIE, SO_PEERGROUPS,
        SO_ZEROCOPY, SO_TXTIME, SO_BINDTOIFINDEX, SO_INCOMING_NAPI_ID,
        // Protocols.
        IPPROTO_IP, IPPROTO_ICMP, IPPROTO_IGMP, IPPROTO_IPIP, IPPROTO_TCP,
        IPPROTO_EGP, IPPROTO_PUP, IPPROTO_UDP, IPPROTO_IDP, IPPROTO_TP,
        IPPROTO_DCCP, IPPROTO_IPV6, IPPROTO_HOPOPTS, IPPROTO_ROUTING,
        IPPROTO_FRAGMENT, IPPROTO_RSVP, IPPROTO_GRE, IPPROTO_ESP, IPPROTO_AH,
        IPPROTO_ICMPV6, IPPROTO_NONE, IPPROTO_DSTOPTS, IPPROTO_MTP,
        IPPROTO_ENCAP, IPPROTO_PIM, IPPROTO_COMP, IPPROTO_SCTP,
        IPPROTO_UDPLITE, IPPROTO_MPLS, IPPROTO_RAW, IPPROTO_MPTCP,
        // IP options.
        IP_TOS, IP_TTL, IP_HDRINCL, IP_OPTIONS, IP_RECVOPTS, IP_RETOPTS,
        IP_PKTINFO, IP_MTU_DISCOVER, IP_RECVERR, IP_RECVTTL, IP_RECVTOS,
        IP_MTU, IP_FREEBIND, IP_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT,
        IP_MULTICAST_IF, IP_MULTICAST_TTL, IP_MULTICAST_LOOP,
        IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP, IP_DEFAULT_MULTICAST_TTL,
        IP_DEFAULT_MULTICAST_LOOP,
        IPV6_V6ONLY, IPV6_UNICAST_HOPS, IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS,
        IPV6_MULTICAST_LOOP, IPV6_ADD_MEMBERSHIP, IPV6_DROP_MEMBERSHIP, IPV6_RECVPKTINFO,
        IPV6_PKTINFO, IPV6_RECVTCLASS, IPV6_TCLASS, IPV6_RECVERR, IPV6_MTU,
        IPV6_MTU_DISCOVER, IPV6_CHECKSUM, IPV6_DONTFRAG, IPV6_HOPLIMIT,
        IPV6_RECVHOPLIMIT,
        // TCP options.
        TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE, TCP_KEEPINTVL,
        TCP_KEEPCNT, TCP_SYNCNT, TCP_LINGER2, TCP_DEFER_ACCEPT,
        TCP_WINDOW_CLAMP, TCP_INFO, TCP_QUICKACK, TCP_CONGESTION, TCP_MD5SIG,
        TCP_THIN_LINEAR_TIMEOUTS, TCP_THIN_DUPACK, TCP_USER_TIMEOUT,
        TCP_REPAIR, TCP_REPAIR_QUEUE, TCP_QUEUE_SEQ, TCP_REPAIR_OPTIONS,
        TCP_FASTOPEN, TCP_TIMESTAMP, TCP_NOTSENT_LOWAT, TCP_CC_INFO,
        TCP_SAVE_SYN, TCP_SAVED_SYN, TCP_REPAIR_WINDOW, TCP_FASTOPEN_CONNECT,
        TCP_ULP, TCP_MD5SIG_EXT, TCP_FASTOPEN_KEY, TCP_FASTOPEN_NO_COOKIE,
        TCP_ZEROCOPY_RECEIVE, TCP_INQ,
        // UDP options.
        UDP_CORK, UDP_ENCAP, UDP_NO_CHECK6_TX, UDP_NO_CHECK6_RX, UDP_SEGMENT,
        UDP_GRO,
        // shutdown().
        SHUT_RD, SHUT_WR, SHUT_RDWR,
        // Message flags.
        MSG_OOB, MSG_PEEK, MSG_DONTROUTE, MSG_CTRUNC, MSG_TRUNC, MSG_DONTWAIT,
        MSG_EOR, MSG_WAITALL, MSG_FIN, MSG_SYN, MSG_CONFIRM, MSG_RST,
        MSG_ERRQUEUE, MSG_NOSIGNAL, MSG_MORE, MSG_WAITFORONE, MSG_FASTOPEN,
        MSG_CMSG_CLOEXEC, MSG_ZEROCOPY,
        // Ancillary data.
        SCM_RIGHTS, SCM_CREDENTIALS,
        // poll().
        POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL, POLLRDNORM,
        POLLRDBAND, POLLWRNORM, POLLWRBAND, POLLRDHUP,
        // getaddrinfo() and getnameinfo().
        AI_PASSIVE, AI_CANONNAME, AI_NUMERICHOST, AI_V4MAPPED, AI_ALL,
        AI_ADDRCONFIG, AI_NUMERICSERV,
        NI_NUMERICHOST, NI_NUMERICSERV, NI_NOFQDN, NI_NAMEREQD, NI_DGRAM,
        NI_IDN, NI_MAXHOST,
        EAI_BADFLAGS, EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_NODATA, EAI_FAMILY,
        EAI_SOCKTYPE, EAI_SERVICE, EAI_MEMORY, EAI_SYSTEM, EAI_OVERFLOW,
        // listen() and addresses.
        SOMAXCONN, INADDR_ANY, INADDR_LOOPBACK, INADDR_BROADCAST, INADDR_NONE,
        // Every errno name glibc defines on Linux.
        EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF, ECHILD,
        EAGAIN, ENOMEM, EACCES, EFAULT, ENOTBLK, EBUSY, EEXIST, EXDEV, ENODEV,
        ENOTDIR, EISDIR, EINVAL, ENFILE, EMFILE, ENOTTY, ETXTBSY, EFBIG, ENOSPC,
        ESPIPE, EROFS, EMLINK, EPIPE, EDOM, ERANGE, EDEADLK, ENAMETOOLONG,
        ENOLCK, ENOSYS, ENOTEMPTY, ELOOP, EWOULDBLOCK, ENOMSG, EIDRM, ECHRNG,
        EL2NSYNC, EL3HLT, EL3RST, ELNRNG, EUNATCH, ENOCSI, EL2HLT, EBADE, EBADR,
        EXFULL, ENOANO, EBADRQC, EBADSLT, EDEADLOCK, EBFONT, ENOSTR, ENODATA,
        ETIME, ENOSR, ENONET, ENOPKG, EREMOTE, ENOLINK, EADV, ESRMNT, ECOMM,
        EPROTO, EMULTIHOP, EDOTDOT, EBADMSG, EOVERFLOW, ENOTUNIQ, EBADFD,
        EREMCHG, ELIBACC, ELIBBAD, ELIBSCN, ELIBMAX, ELIBEXEC, EILSEQ, ERESTART,
        ESTRPIPE, EUSERS, ENOTSOCK, EDESTADDRREQ, EMSGSIZE, EPROTOTYPE,
        ENOPROTOOPT, EPROTONOSUPPORT, ESOCKTNOSUPPORT, EOPNOTSUPP, ENOTSUP,
        EPFNOSUPPORT, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENETDOWN,
        ENETUNREACH, ENETRESET, ECONNABORTED, ECONNRESET, ENOBUFS, EISCONN,
        ENOTCONN, ESHUTDOWN, ETOOMANYREFS, ETIMEDOUT, ECONNREFUSED, EHOSTDOWN,
        EHOSTUNREACH, EALREADY, EINPROGRESS, ESTALE, EUCLEAN, ENOTNAM, ENAVAIL,
        EISNAM, EREMOTEIO, EDQUOT, ENOMEDIUM, EMEDIUMTYPE, ECANCELED, ENOKEY,
        EKEYEXPIRED, EKEYREVOKED, EKEYREJECTED, EOWNERDEAD, ENOTRECOVERABLE,
        ERFKILL, EHWPOISON,
    ],
    extra: [
        NI_MAXSERV, AI_IDN, AI_CANONIDN, EAI_ADDRFAMILY, EAI_INPROGRESS,
        EAI_CANCELED, EAI_NOTCANCELED, EAI_ALLDONE, EAI_INTR, EAI_IDN_ENCODE,
        IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP, SUN_PATH_SIZE, POLLMSG, FD_SETSIZE,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendmsg_recvmsg_carry_buffers_fds_and_true_lengths() {
        use std::os::fd::AsFd;
        let (a, b) = socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        let (x, _y) = socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        let rights = Cmsg {
            level: libc::SOL_SOCKET,
            kind: libc::SCM_RIGHTS,
            data: x.as_raw_fd().to_ne_bytes().to_vec(),
        };
        let sent = sendmsg(
            a.as_fd(),
            &[b"01234".as_slice(), b"56789".as_slice()],
            &[&rights],
            0,
            None,
        )
        .unwrap();
        assert_eq!(sent, 10);
        assert_eq!(next_message_len(b.as_fd(), 0).unwrap(), 10);
        let msg = recvmsg(b.as_fd(), 4, 64, libc::MSG_TRUNC | libc::MSG_CMSG_CLOEXEC).unwrap();
        assert_eq!((msg.data.as_slice(), msg.length), (&b"0123"[..], 10));
        assert_ne!(msg.flags & libc::MSG_TRUNC, 0);
        assert_eq!(msg.address, SockAddr::Unspec);
        assert_eq!(msg.ancillary.len(), 1);
        let fds: Vec<RawFd> = scm_rights_fds(&msg.ancillary[0].data).collect();
        assert_eq!(fds.len(), 1);
        let got = adopt_fd(fds[0]);
        assert!(get_cloexec(got.as_fd()).unwrap());
        assert_eq!(
            getsockopt(got.as_fd(), libc::SOL_SOCKET, libc::SO_TYPE, 4).unwrap(),
            libc::SOCK_STREAM.to_ne_bytes()
        );
    }

    #[test]
    fn host_and_service_databases() {
        let h = gethostbyname("127.0.0.1").unwrap();
        assert_eq!(h.name, "127.0.0.1");
        assert_eq!(
            h.addresses,
            [SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))]
        );
        assert_eq!(
            gethostbyaddr(&SockAddr::Unix(vec![])).unwrap_err(),
            HostError::errno(libc::EAFNOSUPPORT)
        );
        assert_eq!(getservbyname("nosuchservice", None), None);
        assert_eq!(getservbyport(0xfffe, Some("nosuchproto")), None);
        if let Some(port) = getservbyname("http", Some("tcp")) {
            assert_eq!(port, 80);
            assert_eq!(getservbyport(80, Some("tcp")).as_deref(), Some("http"));
        }
    }

    #[test]
    fn misc_calls() {
        assert!(!gethostname().unwrap().is_empty());
        assert_eq!(strerror(libc::ECONNREFUSED), "Connection refused");
        assert_eq!(strerror(libc::EINPROGRESS), "Operation now in progress");
        assert_eq!(strerror(99999), "Unknown error 99999");
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a && a > 0);
    }

    #[test]
    fn constants_hold_the_host_values() {
        let get = |name: &str| {
            CONSTANTS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert_eq!(get("AF_INET"), 2);
        for (name, value) in CONSTANTS {
            assert_eq!(constant(name), Some(*value), "{name}");
        }
        assert_eq!(constant("AF_NO_SUCH_FAMILY"), None);
        assert_eq!(get("AF_INET6"), 10);
        assert_eq!(get("SOCK_NONBLOCK"), 0o4000);
        assert_eq!(get("ECONNREFUSED"), 111);
        assert_eq!(get("EWOULDBLOCK"), get("EAGAIN"));
        assert_eq!(get("EDEADLOCK"), get("EDEADLK"));
        assert_eq!(get("ENOTSUP"), get("EOPNOTSUPP"));
        assert_eq!(get("EAI_NONAME"), -2);
        assert_eq!(get("EAI_SYSTEM"), -11);
        assert_eq!(get("EAI_ADDRFAMILY"), -9);
        assert_eq!(get("NI_MAXHOST"), 1025);
        assert_eq!(get("NI_MAXSERV"), 32);
        assert_eq!(get("INADDR_NONE"), 0xffff_ffff);
        assert_eq!(get("INADDR_LOOPBACK"), 0x7f00_0001);
        assert_eq!(get("SOMAXCONN"), 4096);
        assert_eq!(get("MSG_NOSIGNAL"), 0x4000);
        assert_eq!(get("POLLOUT"), 4);
        assert_eq!(get("TCP_NODELAY"), 1);
        assert_eq!(get("IPV6_JOIN_GROUP"), 20);
        // Every name once, and every errno the C library names has its text.
        let mut names: Vec<_> = CONSTANTS.iter().map(|(n, _)| *n).collect();
        names.sort();
        let len = names.len();
        names.dedup();
        assert_eq!(names.len(), len, "duplicate names");
        for (name, value) in CONSTANTS {
            if name.starts_with('E') && !name.starts_with("EAI_") {
                let errno = i32::try_from(*value).unwrap();
                assert!(!strerror(errno).starts_with("Unknown error"), "{name}");
            }
        }
    }

    #[test]
    fn sockaddr_encoding_follows_the_kernel_rules() {
        let raw = SockAddr::Unix(b"/tmp/x".to_vec()).to_raw().unwrap();
        assert_eq!(raw.len as usize, 2 + 6 + 1);
        let raw = SockAddr::Unix(b"\0abc".to_vec()).to_raw().unwrap();
        assert_eq!(raw.len as usize, 2 + 4);
        let raw = SockAddr::Unix(Vec::new()).to_raw().unwrap();
        assert_eq!(raw.len as usize, 2);
        assert!(SockAddr::Unix(vec![b'a'; 107]).to_raw().is_ok());
        assert_eq!(
            SockAddr::Unix(vec![b'a'; 108]).to_raw().err(),
            Some(libc::EINVAL)
        );
        assert!(
            SockAddr::Unix([&[0u8][..], &[b'a'; 107]].concat())
                .to_raw()
                .is_ok()
        );
        assert_eq!(
            SockAddr::Unix(vec![0; 109]).to_raw().err(),
            Some(libc::EINVAL)
        );
        assert_eq!(
            SockAddr::Other(70000, vec![]).to_raw().err(),
            Some(libc::EAFNOSUPPORT)
        );
        assert_eq!(
            SockAddr::Other(17, vec![0; 127]).to_raw().err(),
            Some(libc::EINVAL)
        );
        for addr in [
            SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080)),
            SockAddr::Inet6(SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                443,
                0x12345,
                7,
            )),
            SockAddr::Unix(b"\0abstract".to_vec()),
            SockAddr::Unix(Vec::new()),
            SockAddr::Other(libc::AF_PACKET, vec![1, 2, 3]),
        ] {
            let raw = addr.to_raw().unwrap();
            assert_eq!(SockAddr::from_raw(&raw), addr);
        }
        assert_eq!(
            SockAddr::from_raw(&SockAddr::Unspec.to_raw().unwrap()),
            SockAddr::Unspec
        );
        // A pathname comes back as the kernel reports it: with its NUL.
        let raw = SockAddr::Unix(b"/tmp/x".to_vec()).to_raw().unwrap();
        assert_eq!(
            SockAddr::from_raw(&raw),
            SockAddr::Unix(b"/tmp/x\0".to_vec())
        );
    }
}
