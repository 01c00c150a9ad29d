//! Socket options and fd flags: `getsockopt`, `setsockopt`, `FD_CLOEXEC`,
//! `O_NONBLOCK`.

use super::*;

impl NativesockCtx {
    pub(crate) fn getsockopt(
        &mut self,
        fd: RawFd,
        level: i32,
        name: i32,
        length: u32,
    ) -> Result<Vec<u8>, Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        if !self.policy.may_get_option(level, name) {
            return Err(self.denied("getsockopt", sockopt_args(n, level, name)));
        }
        self.fault(Call::Getsockopt)?;
        let length = usize::try_from(length)
            .unwrap_or(usize::MAX)
            .min(MAX_SOCKOPT_LEN);
        if level != libc::SOL_SOCKET || name != SO_PEERPIDFD {
            return sys::getsockopt(fd, level, name, length);
        }
        // The kernel installs a pidfd in this process whatever the length
        // (and writes only `length` bytes of its number): ask with room for
        // the whole number, so the store owns the pidfd like an accepted
        // socket, and give the guest the bytes it asked for.
        self.check_room(1)?;
        let mut raw = sys::getsockopt(fd, level, name, 4)?;
        if let Ok(bytes) = <[u8; 4]>::try_from(raw.as_slice())
            && let pidfd = i32::from_ne_bytes(bytes)
            && pidfd >= 0
        {
            let pidfd = self.admit(sys::adopt_fd(pidfd))?;
            self.insert(pidfd);
        }
        raw.truncate(length);
        Ok(raw)
    }

    pub(crate) fn setsockopt(
        &mut self,
        fd: RawFd,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> Result<(), Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        self.check_set_option(n, fd, level, name)?;
        self.fault(Call::Setsockopt)?;
        sys::setsockopt(fd, level, name, value)?;
        if level == libc::SOL_SOCKET
            && matches!(name, libc::SO_PASSCRED | SO_PASSPIDFD)
            && value.iter().any(|&b| b != 0)
        {
            self.fds.passcred.insert(n);
        }
        Ok(())
    }

    pub(crate) fn setsockopt_null(
        &mut self,
        fd: RawFd,
        level: i32,
        name: i32,
        length: u32,
    ) -> Result<(), Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        self.check_set_option(n, fd, level, name)?;
        self.fault(Call::Setsockopt)?;
        sys::setsockopt_null(fd, level, name, length)
    }

    /// `EACCES` (and the denial event) unless the guest may set the option.
    pub(super) fn check_set_option(
        &self,
        n: RawFd,
        fd: BorrowedFd<'_>,
        level: i32,
        name: i32,
    ) -> Result<(), Errno> {
        match self.policy.may_set_option(level, name) {
            Ok(()) => Ok(()),
            Err(libc::EACCES) => Err(self.denied("setsockopt", sockopt_args(n, level, name))),
            // A unix socket has no levels but `SOL_SOCKET`: the kernel
            // answers `EOPNOTSUPP` there.
            Err(_)
                if level != libc::SOL_SOCKET
                    && matches!(sys::getsockname(fd), Ok(SockAddr::Unix(_))) =>
            {
                Err(libc::EOPNOTSUPP)
            }
            Err(errno) => Err(errno),
        }
    }

    pub(crate) fn get_cloexec(&mut self, fd: RawFd) -> Result<bool, Errno> {
        let fd = self.fd(fd)?;
        self.fault(Call::Fcntl)?;
        sys::get_cloexec(fd)
    }

    pub(crate) fn set_cloexec(&mut self, fd: RawFd, cloexec: bool) -> Result<(), Errno> {
        let fd = self.fd(fd)?;
        self.fault(Call::Fcntl)?;
        sys::set_cloexec(fd, cloexec)
    }

    pub(crate) fn get_nonblocking(&mut self, fd: RawFd) -> Result<bool, Errno> {
        let fd = self.fd(fd)?;
        self.fault(Call::Fcntl)?;
        sys::get_nonblocking(fd)
    }

    pub(crate) fn set_nonblocking(&mut self, fd: RawFd, nonblocking: bool) -> Result<(), Errno> {
        let fd = self.fd(fd)?;
        self.fault(Call::Fcntl)?;
        sys::set_nonblocking(fd, nonblocking)
    }
}
