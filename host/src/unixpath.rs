//! Unix socket paths without a race between the policy's check and the
//! system call: a directory inside a grant renamed, or swapped for a
//! symlink, between the two must not move the call outside the grant.
//!
//! * `connect`, `sendto` and `sendmsg` to a path: the path is opened
//!   (`O_PATH`) with `openat2(RESOLVE_BENEATH)` from the granted
//!   directory, so whatever it resolves to is inside the grant at that
//!   moment, and the call is made to that very inode through
//!   `/proc/self/fd/N`. Which socket the guest reaches is fixed by the
//!   open; the peer still sees its own name (`getpeername` is the bound
//!   name, not the path used).
//! * `bind` keeps the guest's own path (it is the socket's name, which
//!   `getsockname` and every peer see), so it cannot be made through a
//!   descriptor. The parent directory is opened beneath the grant first;
//!   after the bind, the socket file the kernel created (its inode, from
//!   `sock_diag`) must be the one in that directory, or the socket is
//!   closed and the call refused: a raced bind can leave an inert socket
//!   file outside the grant, never a socket that listens or receives
//!   there.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};

use crate::sys::{Errno, SockAddr};

/// How the beneath-resolution refuses a path that leaves its directory.
fn escape(e: rustix::io::Errno) -> Errno {
    match e {
        // `..` or a symlink out of the directory, or a magic link.
        rustix::io::Errno::XDEV => libc::EACCES,
        e => e.raw_os_error(),
    }
}

/// Opens `rel` beneath `dir` as `O_PATH` (`directory`: it must be one),
/// following symlinks that stay beneath it.
fn open_beneath(dir: BorrowedFd<'_>, rel: &Path, directory: bool) -> Result<OwnedFd, Errno> {
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if directory {
        flags |= OFlags::DIRECTORY;
    }
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    rustix::fs::openat2(
        dir,
        rel,
        flags,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(escape)
}

/// The granted directory `grant`, opened for resolving beneath it.
fn open_grant(grant: &Path) -> Result<OwnedFd, Errno> {
    rustix::fs::open(
        grant,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| e.raw_os_error())
}

/// A path under a grant, opened: keep it alive for the call, and pass
/// `address` instead of the guest's path.
pub(crate) struct Opened {
    _target: OwnedFd,
    pub(crate) address: SockAddr,
}

/// Opens `rel` (a socket path relative to the granted directory `grant`,
/// its final symlink already followed by the policy's resolution) for a
/// `connect` or a send: `/proc/self/fd/N` of the inode, or the errno the
/// kernel would give for the path (`ENOENT`...), `EACCES` when it leaves
/// the grant.
pub(crate) fn open_target(grant: &Path, rel: &Path) -> Result<Opened, Errno> {
    let dir = open_grant(grant)?;
    let target = open_beneath(dir.as_fd(), rel, false)?;
    let address = SockAddr::Unix(format!("/proc/self/fd/{}", target.as_raw_fd()).into_bytes());
    Ok(Opened {
        _target: target,
        address,
    })
}

/// The directory a `bind` will create its socket file in, opened beneath
/// the grant, and the file's name.
pub(crate) struct BindDir {
    dir: OwnedFd,
    name: std::ffi::OsString,
}

/// Opens the parent of `rel` beneath `grant` before a bind.
pub(crate) fn open_bind_dir(grant: &Path, rel: &Path) -> Result<BindDir, Errno> {
    let name = rel.file_name().ok_or(libc::EINVAL)?.to_owned();
    let parent = rel.parent().unwrap_or(Path::new(""));
    let grant = open_grant(grant)?;
    let dir = open_beneath(grant.as_fd(), parent, true)?;
    Ok(BindDir { dir, name })
}

impl BindDir {
    /// Whether the socket `fd` was bound to the file of this name in this
    /// directory (`None`: the host cannot tell, `sock_diag` is missing).
    pub(crate) fn holds(&self, fd: BorrowedFd<'_>) -> Option<bool> {
        let Some((dev, ino)) = bound_file(fd).ok()? else {
            return Some(false);
        };
        let Ok(file) = rustix::fs::statat(&self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW) else {
            return Some(false);
        };
        let same_dev = rustix::fs::major(file.st_dev) == dev >> 20
            && rustix::fs::minor(file.st_dev) == dev & 0xfffff;
        Some(same_dev && file.st_ino == u64::from(ino))
    }
}

/// The socket file a unix socket is bound to, as the kernel's `sock_diag`
/// reports it (`UDIAG_SHOW_VFS`): its device (the kernel's own encoding,
/// major << 20 | minor) and inode; `None` for an unnamed or abstract one.
pub(crate) fn bound_file(fd: BorrowedFd<'_>) -> Result<Option<(u32, u32)>, Errno> {
    const NETLINK_SOCK_DIAG: i32 = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const UDIAG_SHOW_VFS: u32 = 0x2;
    const UNIX_DIAG_VFS: u16 = 1;
    #[repr(C)]
    struct Request {
        header: libc::nlmsghdr,
        family: u8,
        protocol: u8,
        pad: u16,
        states: u32,
        ino: u32,
        show: u32,
        cookie: [u32; 2],
    }
    let ino = rustix::fs::fstat(fd).map_err(|e| e.raw_os_error())?.st_ino;
    let request = Request {
        header: libc::nlmsghdr {
            nlmsg_len: std::mem::size_of::<Request>() as u32,
            nlmsg_type: SOCK_DIAG_BY_FAMILY,
            nlmsg_flags: libc::NLM_F_REQUEST as u16,
            nlmsg_seq: 1,
            nlmsg_pid: 0,
        },
        family: libc::AF_UNIX as u8,
        protocol: 0,
        pad: 0,
        states: !0,
        ino: u32::try_from(ino).map_err(|_| libc::EOVERFLOW)?,
        show: UDIAG_SHOW_VFS,
        cookie: [!0, !0],
    };
    // SAFETY: plain socket(2); the fd is owned at once.
    let nl = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if nl < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    let nl = crate::sys::adopt_fd(nl);
    // SAFETY: `request` is a plain C struct, valid for its size.
    let sent = unsafe {
        libc::send(
            nl.as_raw_fd(),
            (&raw const request).cast(),
            std::mem::size_of::<Request>(),
            0,
        )
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    let mut buf = [0u8; 4096];
    // SAFETY: `buf` is valid for its length.
    let got = unsafe { libc::recv(nl.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    let got = usize::try_from(got).map_err(|_| {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    })?;
    let msg = &buf[..got];
    let u16_at = |at: usize| {
        msg.get(at..at + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        msg.get(at..at + 4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or_default()))
    };
    // struct nlmsghdr (16 bytes), then an error or a struct unix_diag_msg
    // (16 bytes) and its attributes.
    let kind = u16_at(4).ok_or(libc::EIO)?;
    if kind == libc::NLMSG_ERROR as u16 {
        let code = u32_at(16).ok_or(libc::EIO)? as i32;
        return Err(if code < 0 { -code } else { libc::EIO });
    }
    let end = (u32_at(0).ok_or(libc::EIO)? as usize).min(msg.len());
    let mut at = 32;
    while at + 4 <= end {
        let len = usize::from(u16_at(at).ok_or(libc::EIO)?);
        let attr = u16_at(at + 2).ok_or(libc::EIO)?;
        if len < 4 {
            break;
        }
        if attr == UNIX_DIAG_VFS {
            let vfs_ino = u32_at(at + 4).ok_or(libc::EIO)?;
            let vfs_dev = u32_at(at + 8).ok_or(libc::EIO)?;
            return Ok(Some((vfs_dev, vfs_ino)));
        }
        at += len.div_ceil(4) * 4;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn sock_diag_names_the_bound_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = UnixListener::bind(&path).unwrap();
        let (dev, ino) = bound_file(listener.as_fd()).unwrap().unwrap();
        let file = rustix::fs::stat(&path).unwrap();
        assert_eq!(u64::from(ino), file.st_ino);
        assert_eq!(dev >> 20, rustix::fs::major(file.st_dev));
        let unnamed = std::os::unix::net::UnixDatagram::unbound().unwrap();
        assert_eq!(bound_file(unnamed.as_fd()).unwrap(), None);

        let bind_dir = open_bind_dir(dir.path(), Path::new("s")).unwrap();
        assert_eq!(bind_dir.holds(listener.as_fd()), Some(true));
        let other = open_bind_dir(dir.path(), Path::new("t")).unwrap();
        assert_eq!(other.holds(listener.as_fd()), Some(false));
    }

    #[test]
    fn targets_resolve_beneath_the_grant_only() {
        let dir = tempfile::tempdir().unwrap();
        let grant = dir.path().join("grant");
        std::fs::create_dir_all(grant.join("sub")).unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        let _l = UnixListener::bind(grant.join("sub/s")).unwrap();
        let _o = UnixListener::bind(dir.path().join("outside/s")).unwrap();
        std::os::unix::fs::symlink("../outside", grant.join("out")).unwrap();
        std::os::unix::fs::symlink("sub", grant.join("in")).unwrap();
        assert!(open_target(&grant, Path::new("sub/s")).is_ok());
        assert!(open_target(&grant, Path::new("in/s")).is_ok());
        assert_eq!(
            open_target(&grant, Path::new("out/s")).err(),
            Some(libc::EACCES)
        );
        assert_eq!(
            open_target(&grant, Path::new("../outside/s")).err(),
            Some(libc::EACCES)
        );
        assert_eq!(
            open_target(&grant, Path::new("sub/none")).err(),
            Some(libc::ENOENT)
        );
        assert_eq!(
            open_bind_dir(&grant, Path::new("out/x")).err(),
            Some(libc::EACCES)
        );
        assert!(open_bind_dir(&grant, Path::new("x")).is_ok());
    }
}
