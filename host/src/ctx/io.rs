//! Moving data and waiting for it: `send`, `sendto`, `sendmsg`, `recv`,
//! `recvfrom`, `recvmsg`, `poll`, `poll-fds`.

use super::*;

impl NativesockCtx {
    /// `EACCES` (and the denial event for `operation`) unless the guest
    /// may send with `flags`.
    pub(super) fn check_send_flags(
        &self,
        operation: &str,
        fd: RawFd,
        flags: i32,
    ) -> Result<(), Errno> {
        self.check_flags(operation, fd, flags, Policy::may_send)
    }

    /// `EACCES` (and the denial event for `operation`) unless the guest
    /// may receive with `flags`.
    pub(super) fn check_recv_flags(
        &self,
        operation: &str,
        fd: RawFd,
        flags: i32,
    ) -> Result<(), Errno> {
        self.check_flags(operation, fd, flags, Policy::may_recv)
    }

    pub(super) fn check_flags(
        &self,
        operation: &str,
        fd: RawFd,
        flags: i32,
        may: fn(&Policy, i32) -> bool,
    ) -> Result<(), Errno> {
        if may(&self.policy, flags) {
            Ok(())
        } else {
            Err(self.denied(operation, vec![int_arg(fd.into()), int_arg(flags.into())]))
        }
    }

    /// The part of `data` one send call hands the kernel: all of it, or
    /// for a stream socket at most the cap (a short write); a longer
    /// datagram is `EMSGSIZE`. `injected` is a fault's short write.
    pub(super) fn send_part<'d>(
        &self,
        fd: BorrowedFd<'_>,
        data: &'d [u8],
        injected: usize,
    ) -> Result<&'d [u8], Errno> {
        let data = &data[..data.len().min(injected)];
        if data.len() <= self.max_send_bytes {
            return Ok(data);
        }
        match sys::socket_type(fd) {
            Some(libc::SOCK_STREAM) | None => Ok(&data[..self.max_send_bytes]),
            Some(_) => {
                let cap = u64::try_from(self.max_send_bytes).unwrap_or(u64::MAX);
                Err(self.limited("send-bytes", cap, libc::EMSGSIZE))
            }
        }
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn send(&mut self, fd: RawFd, data: &[u8], flags: i32) -> Result<usize, Errno> {
        wait::now(self.send_in(Mode::Blocking, fd, data, flags))
    }

    pub(crate) async fn send_in(
        &mut self,
        mode: Mode,
        fd: RawFd,
        data: &[u8],
        flags: i32,
    ) -> Result<usize, Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        self.check_send_flags("send", n, flags)?;
        self.check_autobind("send", n, fd)?;
        let injected = self.fault(Call::Send)?;
        let data = self.send_part(fd, data, injected)?;
        let len = data.len();
        wait::send(
            mode,
            self,
            fd,
            Wait::WRITE.flags(flags),
            len,
            |nonblocking, from| sys::send(fd, &data[from..], flags | dontwait(nonblocking)),
        )
        .await
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn sendto(
        &mut self,
        fd: RawFd,
        data: &[u8],
        flags: i32,
        address: &SockAddr,
    ) -> Result<usize, Errno> {
        wait::now(self.sendto_in(Mode::Blocking, fd, data, flags, address))
    }

    pub(crate) async fn sendto_in(
        &mut self,
        mode: Mode,
        fd: RawFd,
        data: &[u8],
        flags: i32,
        address: &SockAddr,
    ) -> Result<usize, Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        // A stream socket's `sendto` can connect (`MSG_FASTOPEN`): it
        // needs a connect grant.
        let op = if self.policy.inherit_network {
            AddressUse::Sendto
        } else {
            match sys::socket_type(fd) {
                Some(libc::SOCK_STREAM) => AddressUse::Connect,
                _ => AddressUse::Sendto,
            }
        };
        self.check_send_flags("sendto", n, flags)?;
        let address = self.destination(fd, address, SendControl::default());
        self.check_address(op, "sendto", n, &address)?;
        self.check_autobind("sendto", n, fd)?;
        let opened = self.unix_target(op, "sendto", n, &address)?;
        let injected = self.fault(Call::Sendto)?;
        let data = self.send_part(fd, data, injected)?;
        self.reached(op, &address);
        let target = opened.as_ref().map_or(&*address, |o| &o.address);
        let len = data.len();
        wait::send(
            mode,
            self,
            fd,
            Wait::WRITE.flags(flags),
            len,
            |nonblocking, from| {
                sys::sendto(fd, &data[from..], flags | dontwait(nonblocking), target)
            },
        )
        .await
    }

    /// The buffer one receive call gets: the guest's length, never more
    /// than the per-call cap on a stream socket; on a datagram or seqpacket
    /// socket asked for more than the cap, the size of the next message
    /// (learned with `MSG_PEEK | MSG_TRUNC`, which waits as the receive
    /// would), so that the cap never truncates a message and nothing is
    /// allocated that did not arrive.
    pub(super) fn recv_len(
        &self,
        fd: BorrowedFd<'_>,
        length: u32,
        flags: i32,
    ) -> Result<usize, Errno> {
        let asked = usize::try_from(length).unwrap_or(usize::MAX);
        if asked <= self.max_recv_bytes {
            return Ok(asked);
        }
        match sys::socket_type(fd) {
            Some(libc::SOCK_STREAM) | None => Ok(self.max_recv_bytes),
            Some(_) => Ok(asked.min(sys::next_message_len(fd, flags)?)),
        }
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn recv(&mut self, fd: RawFd, length: u32, flags: i32) -> Result<Vec<u8>, Errno> {
        wait::now(self.recv_in(Mode::Blocking, fd, length, flags))
    }

    pub(crate) async fn recv_in(
        &mut self,
        mode: Mode,
        fd: RawFd,
        length: u32,
        flags: i32,
    ) -> Result<Vec<u8>, Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        self.check_recv_flags("recv", n, flags)?;
        let injected = self.fault(Call::Recv)?;
        // Both system calls can wait: the length's peek and the receive.
        let this = &*self;
        // What `MSG_WAITALL` waits for on a stream socket (not with
        // `MSG_PEEK`, which never takes the bytes it would wait past).
        let want = if flags & libc::MSG_WAITALL != 0 && flags & libc::MSG_PEEK == 0 {
            usize::try_from(length)
                .unwrap_or(usize::MAX)
                .min(this.max_recv_bytes)
                .min(injected)
        } else {
            0
        };
        wait::recv_all(
            mode,
            this,
            fd,
            Wait::READ.flags(flags),
            want,
            |nonblocking, room| {
                let flags = flags | dontwait(nonblocking);
                let length = match room {
                    Some(room) => room,
                    None => this.recv_len(fd, length, flags)?.min(injected),
                };
                sys::recv(fd, length, flags)
            },
        )
        .await
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn recvfrom(
        &mut self,
        fd: RawFd,
        length: u32,
        flags: i32,
    ) -> Result<(Vec<u8>, SockAddr), Errno> {
        wait::now(self.recvfrom_in(Mode::Blocking, fd, length, flags))
    }

    pub(crate) async fn recvfrom_in(
        &mut self,
        mode: Mode,
        fd: RawFd,
        length: u32,
        flags: i32,
    ) -> Result<(Vec<u8>, SockAddr), Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        self.check_recv_flags("recvfrom", n, flags)?;
        let injected = self.fault(Call::Recvfrom)?;
        let this = &*self;
        wait::wait(mode, this, fd, Wait::READ.flags(flags), |nonblocking| {
            let flags = flags | dontwait(nonblocking);
            let length = this.recv_len(fd, length, flags)?.min(injected);
            sys::recvfrom(fd, length, flags)
        })
        .await
    }

    /// `sendmsg`: the address needs the grant `sendto` needs, and
    /// `SCM_RIGHTS` may only pass fds this store owns (`EBADF`). Fault
    /// injection sees it as [`Call::Sendto`].
    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn sendmsg(
        &mut self,
        fd: RawFd,
        buffers: &[&[u8]],
        ancillary: &[sys::Cmsg],
        flags: i32,
        address: Option<&SockAddr>,
    ) -> Result<usize, Errno> {
        wait::now(self.sendmsg_in(Mode::Blocking, fd, buffers, ancillary, flags, address))
    }

    pub(crate) async fn sendmsg_in(
        &mut self,
        mode: Mode,
        fd: RawFd,
        buffers: &[&[u8]],
        ancillary: &[sys::Cmsg],
        flags: i32,
        address: Option<&SockAddr>,
    ) -> Result<usize, Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        let op = match sys::socket_type(fd) {
            Some(libc::SOCK_STREAM) => AddressUse::Connect,
            _ => AddressUse::Sendto,
        };
        self.check_send_flags("sendmsg", n, flags)?;
        let (control, pass) =
            route::send_control(ancillary, self.policy.inherit_network).map_err(|refused| {
                match refused {
                    route::Refused::Policy(level, kind) => self.denied(
                        "sendmsg",
                        vec![
                            int_arg(n.into()),
                            int_arg(level.into()),
                            int_arg(kind.into()),
                        ],
                    ),
                    route::Refused::Kernel(errno) => errno,
                }
            })?;
        let address = address.map(|a| self.destination(fd, a, control));
        if let Some(address) = &address {
            self.check_address(op, "sendmsg", n, address)?;
        }
        self.check_autobind("sendmsg", n, fd)?;
        let opened = match &address {
            Some(address) => self.unix_target(op, "sendmsg", n, address)?,
            None => None,
        };
        let mut passed = Vec::new();
        for item in ancillary {
            if item.level == libc::SOL_SOCKET
                && item.kind == libc::SCM_RIGHTS
                && sys::scm_rights_fds(&item.data).any(|n| !self.fds.contains(n))
            {
                return Err(libc::EBADF);
            }
            if item.level == libc::SOL_SOCKET && item.kind == libc::SCM_RIGHTS {
                passed.extend(sys::scm_rights_fds(&item.data));
            }
            // A privileged host could vouch for any pid, uid and gid: the
            // guest may only pass the process's own (as an unprivileged
            // process may).
            if item.level == libc::SOL_SOCKET
                && item.kind == libc::SCM_CREDENTIALS
                && !self.policy.inherit_network
                && !own_credentials(&item.data)
            {
                return Err(self.denied("sendmsg", vec![int_arg(n.into())]));
            }
        }
        let injected = self.fault(Call::Sendto)?;
        if buffers.len() > MAX_IOV {
            return Err(libc::EMSGSIZE);
        }
        let total = buffers
            .iter()
            .map(|b| b.len())
            .fold(0usize, usize::saturating_add);
        if total > self.max_send_bytes.min(injected) {
            // Trimming scattered buffers would change a datagram's bytes:
            // over the cap, a message is refused as a datagram is.
            let cap = u64::try_from(self.max_send_bytes).unwrap_or(u64::MAX);
            return Err(self.limited("send-bytes", cap, libc::EMSGSIZE));
        }
        // Each fd sent is in flight until someone receives it: the store
        // keeps a copy of each (see `Parked`), which counts against its cap.
        let parking = self.fds.to_park(&passed);
        self.check_room(parking.len())?;
        if let Some(address) = &address {
            self.reached(op, address);
        }
        let target = match &opened {
            Some(o) => Some(&o.address),
            None => address.as_deref(),
        };
        // A blocking stream socket takes all of it (`wait::send`); the
        // ancillary data goes with the first part, as the kernel sends it.
        let sent = wait::send(
            mode,
            self,
            fd,
            Wait::WRITE.flags(flags),
            total,
            |nonblocking, from| {
                let flags = flags | dontwait(nonblocking);
                if from == 0 {
                    sys::sendmsg(fd, buffers, &pass, flags, target)
                } else {
                    sys::sendmsg(fd, &unsent(buffers, from), &[], flags, target)
                }
            },
        )
        .await?;
        for (key, n) in parking {
            let copy = self
                .fd(n)
                .and_then(|fd| sys::dup(fd))
                .and_then(|c| self.admit(c));
            match copy {
                Ok(copy) => self.fds.parked.park(key, copy),
                // Without a copy the fd is not tracked in flight; it still
                // cannot outlive the store's peers' queues.
                Err(errno) => tracing::debug!(errno, "failed to keep a copy of an fd in flight"),
            }
        }
        self.fds.parked.count(&passed);
        Ok(sent)
    }

    /// `recvmsg`, with `recv`'s length rules and the control buffer capped
    /// at [`MAX_SOCKOPT_LEN`]. Received fds become the store's own; the
    /// host always asks for `MSG_CMSG_CLOEXEC`. Fault injection sees it
    /// as [`Call::Recvfrom`].
    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn recvmsg(
        &mut self,
        fd: RawFd,
        length: u32,
        ancillary_length: u32,
        flags: i32,
    ) -> Result<sys::Message, Errno> {
        wait::now(self.recvmsg_in(Mode::Blocking, fd, length, ancillary_length, flags))
    }

    pub(crate) async fn recvmsg_in(
        &mut self,
        mode: Mode,
        fd: RawFd,
        length: u32,
        ancillary_length: u32,
        flags: i32,
    ) -> Result<sys::Message, Errno> {
        let mut msg = {
            let n = fd;
            let fd = self.fd(n)?;
            self.check_recv_flags("recvmsg", n, flags)?;
            self.fault(Call::Recvfrom)?;
            let ancillary_length = usize::try_from(ancillary_length)
                .unwrap_or(usize::MAX)
                .min(MAX_SOCKOPT_LEN);
            // Both system calls can wait: the length's peek and the receive
            // (the fuzz target found the peek outside the blocking cap).
            let this = &*self;
            let mut msg = wait::wait(mode, this, fd, Wait::READ.flags(flags), |nonblocking| {
                let flags = flags | dontwait(nonblocking);
                let length = this.recv_len(fd, length, flags)?;
                sys::recvmsg(fd, length, ancillary_length, flags | libc::MSG_CMSG_CLOEXEC)
            })
            .await?;
            // The kernel echoes the flag in `msg_flags`; the guest sees its own.
            msg.flags &= !(libc::MSG_CMSG_CLOEXEC & !flags);
            msg
        };
        let (mut over, mut reserved) = (false, false);
        for item in &msg.ancillary {
            // `SCM_RIGHTS` fds, and the pidfd of `SCM_PIDFD` (`SO_PASSPIDFD`):
            // both are installed in this process by the kernel.
            if item.level == libc::SOL_SOCKET
                && (item.kind == libc::SCM_RIGHTS || item.kind == SCM_PIDFD)
            {
                for n in sys::scm_rights_fds(&item.data) {
                    let fd = sys::adopt_fd(n);
                    self.fds.parked.received(fd.as_fd());
                    // Past the store's cap (or into the host's reserve) a
                    // received fd is closed at once, as the kernel drops
                    // the ones that do not fit.
                    if self.fds.held() >= self.max_open_sockets {
                        over = true;
                        drop(fd);
                    } else if let Ok(fd) = self.admit(fd) {
                        let n = self.insert(fd);
                        self.note_passcred(n);
                    } else {
                        reserved = true;
                    }
                }
            }
        }
        if over {
            let cap = u64::try_from(self.max_open_sockets).unwrap_or(u64::MAX);
            self.limited("open-sockets", cap, libc::EMFILE);
        }
        if over || reserved {
            msg.flags |= libc::MSG_CTRUNC;
        }
        Ok(msg)
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn poll(&mut self, fd: RawFd, events: i16, timeout_ms: i32) -> Result<i16, Errno> {
        wait::now(self.poll_in(Mode::Blocking, fd, events, timeout_ms))
    }

    pub(crate) async fn poll_in(
        &mut self,
        mode: Mode,
        fd: RawFd,
        events: i16,
        timeout_ms: i32,
    ) -> Result<i16, Errno> {
        let fd = self.fd(fd)?;
        self.fault(Call::Poll)?;
        let fds = [(Some(fd), events)];
        wait::poll(
            mode,
            self,
            &fds,
            timeout_ms,
            |wait| sys::poll(fd, events, wait),
            |&r| r == 0,
        )
        .await
    }

    /// `poll` over several fds: see `poll-fds` in `wit/native.wit`.
    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn poll_fds(
        &mut self,
        fds: &[(RawFd, i16)],
        timeout_ms: i32,
    ) -> Result<Vec<i16>, Errno> {
        wait::now(self.poll_fds_in(Mode::Blocking, fds, timeout_ms))
    }

    pub(crate) async fn poll_fds_in(
        &mut self,
        mode: Mode,
        fds: &[(RawFd, i16)],
        timeout_ms: i32,
    ) -> Result<Vec<i16>, Errno> {
        if u64::try_from(fds.len()).unwrap_or(u64::MAX) > sys::nofile_limit() {
            return Err(libc::EINVAL);
        }
        self.fault(Call::Poll)?;
        // An fd the store does not own is not passed to the kernel: it is
        // POLLNVAL, as a closed fd is, and like one it ends the wait.
        let borrowed: Vec<(Option<BorrowedFd<'_>>, i16)> = fds
            .iter()
            .map(|&(fd, events)| (self.fds.get(fd).ok(), events))
            .collect();
        let invalid: Vec<bool> = fds
            .iter()
            .zip(&borrowed)
            .map(|(&(fd, _), (owned, _))| fd >= 0 && owned.is_none())
            .collect();
        let any_invalid = invalid.contains(&true);
        let timeout_ms = if any_invalid { 0 } else { timeout_ms };
        let mut revents = wait::poll(
            mode,
            self,
            &borrowed,
            timeout_ms,
            |wait| sys::poll_many(&borrowed, wait),
            move |r: &Vec<i16>| !any_invalid && r.iter().all(|&e| e == 0),
        )
        .await?;
        for (revents, invalid) in revents.iter_mut().zip(invalid) {
            if invalid {
                *revents = libc::POLLNVAL;
            }
        }
        Ok(revents)
    }

    /// Runs a `poll` that waits `timeout_ms` (negative: for ever) so that it
    /// can be cancelled, and so that it waits at most the blocking cap:
    /// `ETIMEDOUT` when the cap, not the guest's timeout, ran out first
    /// (`timed_out` tells a result that nothing became ready).
    pub(crate) fn capped_poll<R>(
        &self,
        timeout_ms: i32,
        poll: impl FnOnce(i32) -> Result<R, Errno>,
        timed_out: impl FnOnce(&R) -> bool,
    ) -> Result<R, Errno> {
        let Some(cap) = self.max_blocking_time else {
            return cancel::blocking(&self.calls, None, false, || poll(timeout_ms));
        };
        // With a cap, poll waits at most the cap itself; no signal needed.
        let cap_ms = i32::try_from(cap.as_millis()).unwrap_or(i32::MAX);
        let capped = timeout_ms < 0 || timeout_ms > cap_ms;
        let wait = if capped { cap_ms } else { timeout_ms };
        match cancel::blocking(&self.calls, None, false, || poll(wait)) {
            Ok(r) if capped && timed_out(&r) => Err(self.limited(
                "blocking-ms",
                u64::try_from(cap.as_millis()).unwrap_or(u64::MAX),
                libc::ETIMEDOUT,
            )),
            result => result,
        }
    }
}

/// [`DEFAULT_MAX_OPEN_SOCKETS`], or less under a low `RLIMIT_NOFILE`.
/// The flag that makes a send or receive not wait, when the mode asks.
pub(super) fn dontwait(nonblocking: bool) -> i32 {
    if nonblocking { libc::MSG_DONTWAIT } else { 0 }
}

/// Whether `SCM_CREDENTIALS` data is this process's own `struct ucred`.
fn own_credentials(data: &[u8]) -> bool {
    let field = |i: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(
            data.get(4 * i..4 * i + 4)?.try_into().ok()?,
        ))
    };
    // SAFETY: these calls have no preconditions.
    let (pid, uid, gid) = unsafe { (libc::getpid() as u32, libc::getuid(), libc::getgid()) };
    field(0) == Some(pid) && field(1) == Some(uid) && field(2) == Some(gid)
}

/// What is left of `buffers` once their first `sent` bytes went.
fn unsent<'b>(buffers: &[&'b [u8]], mut sent: usize) -> Vec<&'b [u8]> {
    let mut rest = Vec::with_capacity(buffers.len());
    for &buffer in buffers {
        if sent >= buffer.len() {
            sent -= buffer.len();
        } else {
            rest.push(&buffer[sent..]);
            sent = 0;
        }
    }
    rest
}
