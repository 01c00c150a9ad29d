//! Making and ending sockets and connections: `socket`, `socketpair`,
//! `close`, `connect`, `bind`, `listen`, `accept`, the names, `shutdown`, `dup`.

use super::*;

impl NativesockCtx {
    pub(crate) fn socket(
        &mut self,
        family: i32,
        socket_type: i32,
        proto: i32,
    ) -> Result<RawFd, Errno> {
        self.check_room(1)?;
        self.fault(Call::Socket)?;
        // The policy first: a denied kind never reaches the kernel (whose
        // socket code for netlink, packet or SCTP, or a module autoload, is
        // itself reachable surface). Arguments no kernel accepts keep the
        // kernel's errno.
        self.policy
            .check_socket(family, socket_type, proto)
            .map_err(|e| match e {
                libc::EACCES => self.denied("socket", socket_args(family, socket_type, proto)),
                e => e,
            })?;
        let fd = self.admit(sys::socket(family, socket_type, proto)?)?;
        Ok(self.insert(fd))
    }

    pub(crate) fn socketpair(
        &mut self,
        family: i32,
        socket_type: i32,
        proto: i32,
    ) -> Result<(RawFd, RawFd), Errno> {
        self.check_room(2)?;
        self.fault(Call::Socketpair)?;
        // As for `socket`: the policy before the kernel.
        self.policy
            .check_socket(family, socket_type, proto)
            .map_err(|e| match e {
                libc::EACCES => self.denied("socketpair", socket_args(family, socket_type, proto)),
                e => e,
            })?;
        let (a, b) = sys::socketpair(family, socket_type, proto)?;
        let (a, b) = (self.admit(a)?, self.admit(b)?);
        Ok((self.insert(a), self.insert(b)))
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn close(&mut self, fd: RawFd) -> Result<(), Errno> {
        wait::now(self.close_in(Mode::Blocking, fd))
    }

    /// `close`. Only `SO_LINGER` with a time makes it wait (for the data
    /// to be sent), whether or not the socket is non-blocking; an awaiting
    /// store then closes on tokio's blocking pool while the call awaits,
    /// and the cap and a cancel reach that thread as they reach a blocking
    /// call.
    pub(crate) async fn close_in(&mut self, mode: Mode, fd: RawFd) -> Result<(), Errno> {
        let owned = self.take_fd(fd).ok_or(libc::EBADF)?;
        // The fd leaves the store whatever happens; an injected fault still closes it.
        self.fault(Call::Close)?;
        if mode == Mode::Awaiting && wait::on_runtime() && sys::lingers(owned.as_fd()) {
            let (calls, cap) = (self.calls.clone(), self.max_blocking_time);
            let closed = tokio::task::spawn_blocking(move || {
                cancel::blocking(&calls, cap, true, || sys::close(owned))
            })
            .await
            .unwrap_or(Err(libc::EIO));
            return match (closed, cap) {
                (Err(libc::ETIMEDOUT), Some(cap)) => {
                    let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
                    Err(self.limited("blocking-ms", ms, libc::ETIMEDOUT))
                }
                (closed, _) => closed,
            };
        }
        // Even a cancelled store closes: only the wait (`SO_LINGER`) is cut short.
        self.blocking(true, || sys::close(owned))
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn connect(&mut self, fd: RawFd, address: &SockAddr) -> Result<(), Errno> {
        wait::now(self.connect_in(Mode::Blocking, fd, address))
    }

    pub(crate) async fn connect_in(
        &mut self,
        mode: Mode,
        fd: RawFd,
        address: &SockAddr,
    ) -> Result<(), Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        let address = self.destination(fd, address, SendControl::default());
        self.check_address(AddressUse::Connect, "connect", n, &address)?;
        self.check_autobind("connect", n, fd)?;
        let opened = self.unix_target(AddressUse::Connect, "connect", n, &address)?;
        self.fault(Call::Connect)?;
        self.reached(AddressUse::Connect, &address);
        let target = opened.as_ref().map_or(&*address, |o| &o.address);
        // Not waiting, the first try starts the connection; once the socket
        // is writable, the next ends it as a blocking `connect` does: the
        // kernel marks the socket connected (a later `connect` is then
        // `EISCONN`), or reports the error and leaves it unconnected.
        wait::wait(mode, self, fd, Wait::CONNECT, |nonblocking| {
            if nonblocking {
                sys::with_nonblocking(fd, || sys::connect(fd, target))
            } else {
                sys::connect(fd, target)
            }
        })
        .await
    }

    /// For a unix socket path inside a grant: the path opened beneath the
    /// granted directory, and the address to call instead of the guest's
    /// (see `unixpath.rs`); `None` for every other address, and for all of
    /// them under `inherit_network`.
    pub(super) fn unix_target(
        &self,
        op: AddressUse,
        operation: &str,
        n: RawFd,
        address: &SockAddr,
    ) -> Result<Option<unixpath::Opened>, Errno> {
        let SockAddr::Unix(name) = address else {
            return Ok(None);
        };
        if self.policy.inherit_network || name.first().is_none_or(|&b| b == 0) {
            return Ok(None);
        }
        // What the kernel refuses (a path too long) it refuses as natively.
        address.to_raw()?;
        let denied = || self.denied(operation, vec![int_arg(n.into()), address_arg(address)]);
        let (grant, rel) = self.policy.unix_grant(name, op).ok_or_else(denied)?;
        match unixpath::open_target(&grant, &rel) {
            Ok(opened) => Ok(Some(opened)),
            Err(libc::EACCES) => Err(denied()),
            Err(errno) => Err(errno),
        }
    }

    /// `address`, or for an unspecified host the explicit address the
    /// kernel would pick (see `route.rs`), so that the policy checks and
    /// the kernel uses one and the same address.
    pub(super) fn destination<'a>(
        &self,
        fd: BorrowedFd<'_>,
        address: &'a SockAddr,
        control: SendControl,
    ) -> Cow<'a, SockAddr> {
        let unspecified = match address {
            SockAddr::Inet(a) => a.ip().is_unspecified(),
            SockAddr::Inet6(a) => a.ip().to_canonical().is_unspecified(),
            _ => false,
        };
        if !unspecified || self.policy.inherit_network {
            return Cow::Borrowed(address);
        }
        let local = sys::getsockname(fd).ok();
        match route::explicit_destination(address, local.as_ref(), control) {
            Some(explicit) => Cow::Owned(explicit),
            None => Cow::Borrowed(address),
        }
    }

    /// `EACCES` when `fd` is an unnamed unix socket with `SO_PASSCRED` or
    /// `SO_PASSPIDFD` on and the store may not use abstract names: the
    /// kernel would autobind it to one as it connects or sends (and a
    /// socket with a name can be reached, or listen).
    pub(super) fn check_autobind(
        &self,
        operation: &str,
        n: RawFd,
        fd: BorrowedFd<'_>,
    ) -> Result<(), Errno> {
        if self.policy.abstract_unix || !self.fds.passcred.contains(&n) {
            return Ok(());
        }
        match sys::getsockname(fd) {
            Ok(SockAddr::Unix(name)) if name.is_empty() => {
                let address = SockAddr::Unix(name);
                Err(self.denied(operation, vec![int_arg(n.into()), address_arg(&address)]))
            }
            _ => Ok(()),
        }
    }

    /// Checks a bind of `fd` to `address` (`operation`: `bind`, or the
    /// implicit bind of `listen`). An IPv6 socket bound to `::` without
    /// `IPV6_V6ONLY` also receives IPv4: that needs the IPv4 grant for
    /// `0.0.0.0` on the same port too.
    pub(super) fn check_bind(
        &self,
        operation: &str,
        n: RawFd,
        fd: BorrowedFd<'_>,
        address: &SockAddr,
    ) -> Result<(), Errno> {
        self.check_address(AddressUse::Bind, operation, n, address)?;
        if let SockAddr::Inet6(a) = address
            && a.ip().is_unspecified()
            && !self.policy.inherit_network
            && !matches!(
                sys::getsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 4).as_deref(),
                Ok([1, 0, 0, 0])
            )
        {
            let v4 = SockAddr::Inet(std::net::SocketAddrV4::new(
                std::net::Ipv4Addr::UNSPECIFIED,
                a.port(),
            ));
            self.check_address(AddressUse::Bind, operation, n, &v4)?;
        }
        Ok(())
    }

    pub(crate) fn bind(&mut self, fd: RawFd, address: &SockAddr) -> Result<(), Errno> {
        let n = fd;
        let raced = {
            let fd = self.fd(n)?;
            self.check_bind("bind", n, fd, address)?;
            // A unix path: its directory, opened beneath the grant first.
            let dir = match address {
                SockAddr::Unix(name)
                    if !self.policy.inherit_network && name.first().is_some_and(|&b| b != 0) =>
                {
                    address.to_raw()?;
                    let (grant, rel) = self
                        .policy
                        .unix_grant(name, AddressUse::Bind)
                        .ok_or(libc::EACCES)?;
                    Some(unixpath::open_bind_dir(&grant, &rel).map_err(|e| match e {
                        libc::EACCES => {
                            self.denied("bind", vec![int_arg(n.into()), address_arg(address)])
                        }
                        e => e,
                    })?)
                }
                _ => None,
            };
            self.fault(Call::Bind)?;
            self.reached(AddressUse::Bind, address);
            sys::bind(fd, address)?;
            // The file the kernel made must be the one in that directory.
            dir.is_some_and(|dir| dir.holds(fd) == Some(false))
        };
        if raced {
            // Bound outside the grant by a rename in between: the socket
            // goes, before it can listen or receive.
            drop(self.take_fd(n));
            return Err(self.denied("bind", vec![int_arg(n.into()), address_arg(address)]));
        }
        Ok(())
    }

    /// Logs, as a trace event under [`ADDRESS_EVENT`], an address a system
    /// call is about to be made with: `op` names the grant it needed, and
    /// `sockaddr` holds the bytes the kernel is given. The fuzz target
    /// checks its policy invariant against these events.
    pub(super) fn reached(&self, op: AddressUse, address: &SockAddr) {
        if tracing::enabled!(target: ADDRESS_EVENT, tracing::Level::TRACE) {
            let raw = address.to_raw().ok();
            let sockaddr = raw.as_ref().map_or(&[][..], sys::RawAddr::as_bytes);
            tracing::trace!(target: ADDRESS_EVENT, ?op, ?address, sockaddr, "address reached");
        }
    }

    pub(crate) fn listen(&mut self, fd: RawFd, backlog: i32) -> Result<(), Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        if !self.policy.inherit_network
            && matches!(
                sys::socket_type(fd),
                Some(libc::SOCK_STREAM | libc::SOCK_SEQPACKET)
            )
        {
            // `listen` on a socket that was never bound binds it implicitly:
            // the wildcard address with an ephemeral port, or an autobound
            // abstract unix name.
            // And a socket that already has an abstract name (autobound
            // by a `connect` that failed, say) may listen only with the
            // grant for abstract names.
            match sys::getsockname(fd) {
                Ok(local @ (SockAddr::Inet(_) | SockAddr::Inet6(_)))
                    if local_port(&local) == Some(0) =>
                {
                    self.check_bind("listen", n, fd, &local)?;
                    self.reached(AddressUse::Bind, &local);
                }
                Ok(SockAddr::Unix(name)) if name.first().is_none_or(|&b| b == 0) => {
                    let local = SockAddr::Unix(name);
                    self.check_address(AddressUse::Bind, "listen", n, &local)?;
                    self.reached(AddressUse::Bind, &local);
                }
                _ => {}
            }
        }
        self.fault(Call::Listen)?;
        sys::listen(fd, backlog)
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn accept(&mut self, fd: RawFd, flags: i32) -> Result<(RawFd, SockAddr), Errno> {
        wait::now(self.accept_in(Mode::Blocking, fd, flags))
    }

    pub(crate) async fn accept_in(
        &mut self,
        mode: Mode,
        fd: RawFd,
        flags: i32,
    ) -> Result<(RawFd, SockAddr), Errno> {
        let (new, peer) = {
            let fd = self.fd(fd)?;
            self.check_room(1)?;
            self.fault(Call::Accept)?;
            wait::wait(mode, self, fd, Wait::READ, |nonblocking| {
                if nonblocking {
                    sys::with_nonblocking(fd, || sys::accept(fd, flags))
                } else {
                    sys::accept(fd, flags)
                }
            })
            .await?
        };
        let new = self.admit(new)?;
        Ok((self.insert(new), peer))
    }

    pub(crate) fn getsockname(&mut self, fd: RawFd) -> Result<SockAddr, Errno> {
        let fd = self.fd(fd)?;
        self.fault(Call::Getsockname)?;
        sys::getsockname(fd)
    }

    pub(crate) fn getpeername(&mut self, fd: RawFd) -> Result<SockAddr, Errno> {
        let fd = self.fd(fd)?;
        self.fault(Call::Getpeername)?;
        sys::getpeername(fd)
    }

    pub(crate) fn shutdown(&mut self, fd: RawFd, how: i32) -> Result<(), Errno> {
        let fd = self.fd(fd)?;
        self.fault(Call::Shutdown)?;
        sys::shutdown(fd, how)
    }

    pub(crate) fn dup(&mut self, fd: RawFd) -> Result<RawFd, Errno> {
        let new = {
            let fd = self.fd(fd)?;
            self.check_room(1)?;
            self.fault(Call::Dup)?;
            sys::dup(fd)?
        };
        let new = self.admit(new)?;
        let new = self.insert(new);
        if self.fds.passcred.contains(&fd) {
            self.fds.passcred.insert(new);
        }
        Ok(new)
    }
}
