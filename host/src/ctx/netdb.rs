//! Name lookups: `getaddrinfo`, `getnameinfo`, the host and service
//! databases, `gethostname`.

use super::*;

impl NativesockCtx {
    /// A lookup as a blocking store runs it (tests).
    #[cfg(test)]
    pub(crate) fn lookup<R: Send + 'static, E: Send + 'static>(
        &self,
        call: impl FnOnce() -> Result<R, E> + Send + 'static,
        errno: fn(Errno) -> E,
    ) -> Result<R, E>
    where
        Result<R, E>: wait::Failed,
    {
        wait::now(self.lookup_in(Mode::Blocking, call, errno))
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn gethostbyname(&mut self, name: &str) -> Result<sys::HostEnt, sys::HostError> {
        wait::now(self.gethostbyname_in(Mode::Blocking, name))
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn getaddrinfo(
        &mut self,
        host: Option<&str>,
        port: Option<&str>,
        family: i32,
        socket_type: i32,
        proto: i32,
        flags: i32,
    ) -> Result<Vec<AddrInfo>, GaiError> {
        wait::now(self.getaddrinfo_in(
            Mode::Blocking,
            host,
            port,
            family,
            socket_type,
            proto,
            flags,
        ))
    }

    /// The call as a blocking store makes it (tests).
    #[cfg(test)]
    pub(crate) fn getnameinfo(
        &mut self,
        address: &SockAddr,
        flags: i32,
    ) -> Result<(String, String), GaiError> {
        wait::now(self.getnameinfo_in(Mode::Blocking, address, flags))
    }

    /// `gethostbyname_r`: a numeric IPv4 address needs no grant.
    pub(crate) async fn gethostbyname_in(
        &mut self,
        mode: Mode,
        name: &str,
    ) -> Result<sys::HostEnt, sys::HostError> {
        if !self.policy.name_lookup && name.parse::<std::net::Ipv4Addr>().is_err() {
            let name = AuditArg::Scalar(AuditScalar::Str(name.to_owned()));
            return Err(sys::HostError::errno(
                self.denied("gethostbyname", vec![name]),
            ));
        }
        if name.parse::<std::net::Ipv4Addr>().is_ok() {
            // A numeric address is parsed, not looked up.
            return sys::gethostbyname(name);
        }
        let name = name.to_owned();
        self.lookup_in(
            mode,
            move || sys::gethostbyname(&name),
            sys::HostError::errno,
        )
        .await
    }

    /// `gethostbyaddr_r`: a reverse lookup always needs the grant.
    pub(crate) async fn gethostbyaddr_in(
        &mut self,
        mode: Mode,
        address: &SockAddr,
    ) -> Result<sys::HostEnt, sys::HostError> {
        if !self.policy.name_lookup {
            return Err(sys::HostError::errno(
                self.denied("gethostbyaddr", vec![address_arg(address)]),
            ));
        }
        let address = address.clone();
        self.lookup_in(
            mode,
            move || sys::gethostbyaddr(&address),
            sys::HostError::errno,
        )
        .await
    }

    /// `getservbyname_r`: the local services database, no grant needed.
    pub(crate) fn getservbyname(&mut self, name: &str, proto: Option<&str>) -> Option<u16> {
        sys::getservbyname(name, proto)
    }

    /// `getservbyport_r`: the local services database, no grant needed.
    pub(crate) fn getservbyport(&mut self, port: u16, proto: Option<&str>) -> Option<String> {
        sys::getservbyport(port, proto)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "getaddrinfo's own arguments, and the mode"
    )]
    pub(crate) async fn getaddrinfo_in(
        &mut self,
        mode: Mode,
        host: Option<&str>,
        port: Option<&str>,
        family: i32,
        socket_type: i32,
        proto: i32,
        flags: i32,
    ) -> Result<Vec<AddrInfo>, GaiError> {
        let numeric_only = !self.policy.name_lookup && host.is_some();
        self.gai_fault(Call::Getaddrinfo)?;
        if numeric_only {
            // Only a numeric host needs no lookup: ask the C library to
            // take it as one, and refuse what it cannot.
            let flags = flags | libc::AI_NUMERICHOST;
            // A numeric host is parsed, never looked up: no thread needed.
            return sys::getaddrinfo(host, port, family, socket_type, proto, flags).map_err(|e| {
                if e.code == libc::EAI_NONAME {
                    let host = AuditArg::Scalar(AuditScalar::Str(host.unwrap_or("").to_owned()));
                    GaiError::system(self.denied("getaddrinfo", vec![host]))
                } else {
                    e
                }
            });
        }
        if host.is_none_or(|h| h.parse::<std::net::IpAddr>().is_ok()) {
            // No host name to resolve (services come from the local
            // database): nothing that can block.
            return sys::getaddrinfo(host, port, family, socket_type, proto, flags);
        }
        let (host, port) = (host.map(str::to_owned), port.map(str::to_owned));
        self.lookup_in(
            mode,
            move || {
                sys::getaddrinfo(
                    host.as_deref(),
                    port.as_deref(),
                    family,
                    socket_type,
                    proto,
                    flags,
                )
            },
            GaiError::system,
        )
        .await
    }

    pub(crate) async fn getnameinfo_in(
        &mut self,
        mode: Mode,
        address: &SockAddr,
        flags: i32,
    ) -> Result<(String, String), GaiError> {
        if !self.policy.name_lookup && flags & libc::NI_NUMERICHOST == 0 {
            return Err(GaiError::system(
                self.denied("getnameinfo", vec![address_arg(address)]),
            ));
        }
        self.gai_fault(Call::Getnameinfo)?;
        if flags & libc::NI_NUMERICHOST != 0 {
            // No host lookup: nothing that can block.
            return sys::getnameinfo(address, flags);
        }
        let address = address.clone();
        self.lookup_in(
            mode,
            move || sys::getnameinfo(&address, flags),
            GaiError::system,
        )
        .await
    }

    /// Runs a host name lookup so that the store's blocking time cap and
    /// cancel handle reach it (numeric hosts, which cannot block, are
    /// answered on the store's thread). A lookup blocks inside the C library (the resolver
    /// retries through signals), so with a cap or a handle it runs on a
    /// thread of its own while this one waits: cut short, the call fails
    /// with `ETIMEDOUT` (cap, and [`LIMIT_EVENT`]) or `EINTR` (cancel),
    /// made into the lookup's error by `errno`, and the lookup ends on its
    /// own, its answer dropped. At most [`MAX_LOOKUP_THREADS`] such
    /// threads run in the process at once; past that, `EAGAIN`.
    ///
    /// In an awaiting store ([`Mode::Awaiting`] on a tokio runtime) the
    /// lookup runs on tokio's blocking pool while the call awaits it, under
    /// the same cap and cancel (`wait::off_thread`).
    pub(crate) async fn lookup_in<R: Send + 'static, E: Send + 'static>(
        &self,
        mode: Mode,
        call: impl FnOnce() -> Result<R, E> + Send + 'static,
        errno: fn(Errno) -> E,
    ) -> Result<R, E> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        if mode == Mode::Awaiting && wait::on_runtime() {
            return wait::off_thread(self, call, errno).await;
        }
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        if !self.calls.is_armed() && self.max_blocking_time.is_none() {
            return call();
        }
        if self.calls.is_cancelled() {
            return Err(errno(libc::EINTR));
        }
        if RUNNING.fetch_add(1, Ordering::SeqCst) >= MAX_LOOKUP_THREADS {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            return Err(errno(libc::EAGAIN));
        }
        let (done, answer) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("nativesock-lookup".into())
            .spawn(move || {
                let _ = done.send(call());
                RUNNING.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            return Err(errno(libc::EAGAIN));
        }
        let deadline = self
            .max_blocking_time
            .map(|cap| std::time::Instant::now() + cap);
        loop {
            match answer.recv_timeout(Duration::from_millis(5)) {
                Ok(result) => return result,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(errno(libc::EAGAIN));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if self.calls.is_cancelled() {
                return Err(errno(libc::EINTR));
            }
            if let (Some(deadline), Some(cap)) = (deadline, self.max_blocking_time)
                && std::time::Instant::now() >= deadline
            {
                let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
                return Err(errno(self.limited("blocking-ms", ms, libc::ETIMEDOUT)));
            }
        }
    }

    pub(crate) fn gethostname(&mut self) -> Result<String, Errno> {
        self.fault(Call::Gethostname)?;
        sys::gethostname()
    }
}
