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

mod addr;
mod calls;
mod consts;
mod msg;
mod netdb;
#[cfg(test)]
mod tests;

pub(crate) use addr::*;
pub(crate) use calls::*;
pub(crate) use consts::*;
pub(crate) use msg::*;
pub(crate) use netdb::*;

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
