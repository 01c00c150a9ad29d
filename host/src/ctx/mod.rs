//! Per-store state: the fds a store owns (`fd_table.rs`), its policy and
//! its hooks, and the native operations checked against them, by topic:
//! `connection.rs` (sockets, connect, bind, listen, accept, names),
//! `io.rs` (sends, receives, poll), `options.rs` (socket options and fd
//! flags), `netdb.rs` (name lookups). Plain Rust: the bindings in
//! `native.rs` are thin adapters over the methods here.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::cancel::{self, CallState, CancelHandle};
use crate::fd_table::FdTable;
use crate::hooks::{
    AuditArg, AuditEvent, AuditHook, AuditScalar, Call, Fault, FaultInjector, Raised, SignalCheck,
    address_arg, int_arg, socket_args, sockopt_args,
};
use crate::policy::{AddressRule, AddressUse, Policy};
use crate::route::{self, SendControl};
use crate::sys::{self, AddrInfo, Errno, GaiError, SockAddr};
use crate::unixpath;
use crate::wait::{self, Mode, Wait};

/// The default per-call cap on `recv`/`recvfrom` (1 MiB).
pub const DEFAULT_MAX_RECV_BYTES: u32 = 1 << 20;

/// The default per-call cap on `send`/`sendto` (1 MiB).
pub const DEFAULT_MAX_SEND_BYTES: u32 = 1 << 20;

/// The default cap on the fds one store owns at once: 1024, or less when the
/// process's soft `RLIMIT_NOFILE` leaves less than that above
/// [`HOST_FD_RESERVE`] (see [`NativesockCtxBuilder::new`]).
pub const DEFAULT_MAX_OPEN_SOCKETS: u32 = 1024;

/// How many fd numbers below the process's soft `RLIMIT_NOFILE` no store
/// may take: the host's own files, pipes and logs need them. The kernel
/// hands out the lowest free number, so a new fd at or above
/// `limit - HOST_FD_RESERVE` means the process is that close to `EMFILE`:
/// the store gets `EMFILE` instead, and the host keeps working.
pub const HOST_FD_RESERVE: u32 = 64;

/// The prefix of the host's own audit events, which no guest may raise.
pub const HOST_EVENT_PREFIX: &str = "nativesock.";

/// The audit event the host raises when its policy refuses a call:
/// `nativesock.denied(operation, ...)`; see [`NativesockCtxBuilder::audit_hook`].
pub const DENIED_EVENT: &str = "nativesock.denied";

/// The audit event the host raises when a store hits one of its limits:
/// `nativesock.limit(limit, value)`; see [`NativesockCtxBuilder::audit_hook`].
pub const LIMIT_EVENT: &str = "nativesock.limit";

/// The `tracing` target of the trace event logged with every address a
/// `connect`, `bind`, `sendto` or `sendmsg` system call (or `listen`'s
/// implicit bind) is about to be made with, once the policy has granted it:
/// `RUST_LOG=nativesock::address=trace` lists where a guest's sockets went.
/// Its fields: `op` (the [`AddressUse`] the grant was for), `address`, and
/// `sockaddr` (the bytes given to the kernel).
pub const ADDRESS_EVENT: &str = "nativesock::address";

/// `SO_PEERPIDFD` (Linux 6.5, generic value): `getsockopt` installs the
/// peer's pidfd in the process.
const SO_PEERPIDFD: i32 = 77;

/// `SO_PASSPIDFD` (Linux 6.5): like `SO_PASSCRED`, with a pidfd.
const SO_PASSPIDFD: i32 = 76;

/// `SCM_PIDFD` (Linux 6.5): a control message carrying a pidfd the kernel
/// installed in the process.
const SCM_PIDFD: i32 = 4;

/// The most buffers one `sendmsg` takes: Linux's `UIO_MAXIOV`, past which
/// the kernel refuses the call with `EMSGSIZE`.
pub(crate) const MAX_IOV: usize = 1024;

/// The most name lookups that run on threads of their own at once, in the
/// whole process (see `NativesockCtx::lookup`).
pub(crate) const MAX_LOOKUP_THREADS: usize = 32;

/// The most bytes a `getsockopt` buffer gets, whatever the guest asks for
/// (CPython itself refuses more than 1024).
pub(crate) const MAX_SOCKOPT_LEN: usize = 64 << 10;

/// Per-store nativesock state: the socket fds the store owns, its access
/// policy and the embedder's hooks.
///
/// Build one with [`NativesockCtxBuilder`], keep it in the store's data and
/// expose it through [`NativesockView`]. A guest can name only the fds this
/// context owns; dropping the context closes every one of them.
pub struct NativesockCtx {
    /// The fds the store owns; dropping it closes them.
    fds: FdTable,
    policy: Policy,
    audit_hooks: Vec<AuditHook>,
    signal_check: Option<SignalCheck>,
    fault_injector: Option<FaultInjector>,
    max_recv_bytes: usize,
    max_send_bytes: usize,
    max_open_sockets: usize,
    max_blocking_time: Option<Duration>,
    calls: Arc<CallState>,
}

impl fmt::Debug for NativesockCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativesockCtx")
            .field("fds", &self.fds.numbers())
            .field("policy", &self.policy)
            .field("audit_hooks", &self.audit_hooks.len())
            .field("signal_check", &self.signal_check.is_some())
            .field("fault_injector", &self.fault_injector.is_some())
            .field("max_recv_bytes", &self.max_recv_bytes)
            .field("max_send_bytes", &self.max_send_bytes)
            .field("max_open_sockets", &self.max_open_sockets)
            .field("max_blocking_time", &self.max_blocking_time)
            .field("cancelled", &self.calls.is_cancelled())
            .finish()
    }
}

/// Builds a [`NativesockCtx`].
///
/// The defaults of [`NativesockCtxBuilder::new`] deny all network access;
/// each method below grants or configures one thing, and they map 1:1 to
/// the `nativesock run` flags.
pub struct NativesockCtxBuilder {
    policy: Policy,
    audit_hooks: Vec<AuditHook>,
    signal_check: Option<SignalCheck>,
    fault_injector: Option<FaultInjector>,
    granted: Vec<OwnedFd>,
    max_recv_bytes: u32,
    max_send_bytes: u32,
    max_open_sockets: u32,
    max_blocking_time: Option<Duration>,
    calls: Arc<CallState>,
    built: bool,
}

impl fmt::Debug for NativesockCtxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativesockCtxBuilder")
            .field("policy", &self.policy)
            .field("audit_hooks", &self.audit_hooks.len())
            .field("signal_check", &self.signal_check.is_some())
            .field("fault_injector", &self.fault_injector.is_some())
            .field("granted", &self.granted)
            .field("max_recv_bytes", &self.max_recv_bytes)
            .field("max_send_bytes", &self.max_send_bytes)
            .field("max_open_sockets", &self.max_open_sockets)
            .field("max_blocking_time", &self.max_blocking_time)
            .finish()
    }
}

impl Default for NativesockCtxBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl NativesockCtxBuilder {
    /// A builder with these defaults:
    ///
    /// * **No network.** No address may be connected to, bound or sent to
    ///   (`EACCES`), no unix path or abstract name may be used, and name
    ///   lookup is off: `getaddrinfo` works for numeric hosts only and
    ///   `getnameinfo` only with `NI_NUMERICHOST` (otherwise `EAI_SYSTEM`
    ///   with errno `EACCES`). Sockets can still be created (`AF_INET`,
    ///   `AF_INET6` and `AF_UNIX`, stream, datagram or seqpacket; other
    ///   families and types are `EACCES`), and `socketpair` works.
    /// * **No fds.** The store owns only the sockets it creates.
    /// * **No hooks.** Every audit event is allowed, `check-signals` reports
    ///   nothing pending, and no fault is injected.
    /// * `recv`/`recvfrom` return at most [`DEFAULT_MAX_RECV_BYTES`] (1 MiB)
    ///   per call, and `send`/`sendto` take at most [`DEFAULT_MAX_SEND_BYTES`]
    ///   (1 MiB) per call.
    /// * The store owns at most [`DEFAULT_MAX_OPEN_SOCKETS`] (1024) fds at
    ///   once, or the process's soft `RLIMIT_NOFILE` less
    ///   [`HOST_FD_RESERVE`] if that is smaller; past that, calls that make
    ///   one fail with `EMFILE`. Whatever the cap, no store takes one of
    ///   the last [`HOST_FD_RESERVE`] numbers below the limit.
    /// * No cap on the time one call blocks (a blocking socket blocks as it
    ///   would natively); no cancellation until a [`cancel_handle`] is taken.
    ///
    /// [`cancel_handle`]: NativesockCtxBuilder::cancel_handle
    pub fn new() -> Self {
        NativesockCtxBuilder {
            policy: Policy::default(),
            audit_hooks: Vec::new(),
            signal_check: None,
            fault_injector: None,
            granted: Vec::new(),
            max_recv_bytes: DEFAULT_MAX_RECV_BYTES,
            max_send_bytes: DEFAULT_MAX_SEND_BYTES,
            max_open_sockets: default_max_open_sockets(),
            max_blocking_time: None,
            calls: Arc::default(),
            built: false,
        }
    }

    /// Allows everything the host's own user may do: every address, port,
    /// unix path and abstract name, name lookups, and every socket family
    /// and type (raw, packet, netlink...). The CLI's `-S inherit-network`.
    pub fn inherit_network(&mut self) -> &mut Self {
        self.policy.inherit_network = true;
        self.policy.abstract_unix = true;
        self.policy.name_lookup = true;
        self
    }

    /// Allows `connect` to the addresses and ports of `rule` (also a
    /// stream socket's `sendto`, which can connect with TCP Fast Open).
    /// The CLI's `--allow-connect RULE`.
    pub fn allow_connect(&mut self, rule: AddressRule) -> &mut Self {
        self.policy.connect.push(rule);
        self
    }

    /// Allows `bind` to the addresses and ports of `rule`; port 0 asks for
    /// an ephemeral port and needs a rule that covers port 0. `listen` on a
    /// socket that was never bound binds the wildcard address, port 0, and
    /// is checked as such a bind. The CLI's `--allow-bind RULE`.
    pub fn allow_bind(&mut self, rule: AddressRule) -> &mut Self {
        self.policy.bind.push(rule);
        self
    }

    /// Allows a datagram socket's `sendto` to the addresses and ports of
    /// `rule`. The CLI's `--allow-sendto RULE`.
    pub fn allow_sendto(&mut self, rule: AddressRule) -> &mut Self {
        self.policy.sendto.push(rule);
        self
    }

    /// Allows unix socket paths inside `dir` (and its subdirectories) for
    /// `connect`, `bind` and `sendto`. The CLI's `--allow-unix DIR`.
    ///
    /// A relative `dir` is made absolute against the current directory now;
    /// symlinks in it are resolved at each check. A guest's path is checked
    /// by its resolved parent directory (so `..` and symlinks cannot escape)
    /// plus its file name; `connect` and `sendto` also follow a final
    /// symlink, as the kernel does. A relative guest path is relative to
    /// the host process's current directory.
    ///
    /// Renaming directories inside the grant between the check and the
    /// call (another process, or the guest through a writable preopen)
    /// cannot move the call outside it: `connect` and sends are made to
    /// the path opened beneath the granted directory, and a `bind` whose
    /// socket file did not land in the directory opened beneath it loses
    /// its socket and fails with `EACCES` (see `SECURITY.md`).
    pub fn allow_unix_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        let dir = dir.as_ref();
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        self.policy.unix_dirs.push(dir);
        self
    }

    /// Allows (or not) Linux abstract unix names (first byte NUL), including
    /// the autobind of an empty name. The CLI's `--allow-abstract-unix`.
    /// Abstract names are one namespace for the whole network namespace,
    /// shared with every process on the host: grant them like an address.
    pub fn allow_abstract_unix(&mut self, allow: bool) -> &mut Self {
        self.policy.abstract_unix = allow;
        self
    }

    /// Allows (or not) name lookups: `getaddrinfo` on a host that is not a
    /// numeric address, and `getnameinfo` without `NI_NUMERICHOST`. Service
    /// names (`"http"`) are looked up in `/etc/services` either way. The
    /// CLI's `--allow-name-lookup`.
    pub fn allow_name_lookup(&mut self, allow: bool) -> &mut Self {
        self.policy.name_lookup = allow;
        self
    }

    /// Allows `setsockopt` of option `name` at `level` beyond the list in
    /// `SECURITY.md` (the options CPython programs use that cannot reach past
    /// the address policy). Without it such an option is `EACCES` and
    /// [`DENIED_EVENT`]; [`inherit_network`] allows them all. Options the
    /// host can never make safe (they would have the kernel read or keep
    /// the host's memory, or name a host fd: `SO_ZEROCOPY`,
    /// `SO_ATTACH_FILTER`...) stay refused either way. The CLI's
    /// `--allow-sockopt LEVEL:NAME`.
    ///
    /// [`inherit_network`]: NativesockCtxBuilder::inherit_network
    pub fn allow_sockopt(&mut self, level: i32, name: i32) -> &mut Self {
        self.policy.sockopts.insert((level, name));
        self
    }

    /// Sets the embedder's own check of IP addresses, beside the rules (as
    /// wasmtime-wasi's `socket_addr_check`): when no rule grants a
    /// `connect`, `bind` or `sendto` to an IP address, the call is allowed
    /// if `check(address, use)` returns `true` and refused with `EACCES`
    /// (and [`DENIED_EVENT`]) if it returns `false`. It sees the address the
    /// call uses (the unspecified address of a `connect` or `sendto` as
    /// loopback, where the kernel sends it) and runs on the thread making
    /// the call, so it must not block. Unix paths and abstract names are
    /// granted by [`allow_unix_dir`] and [`allow_abstract_unix`] only.
    ///
    /// ```
    /// use nativesock::{AddressUse, NativesockCtx};
    ///
    /// // Connect anywhere on loopback on ports the embedder has open.
    /// let open_ports = [8080, 8443];
    /// let ctx = NativesockCtx::builder()
    ///     .address_check(move |address, use_| {
    ///         use_ == AddressUse::Connect
    ///             && address.ip().is_loopback()
    ///             && open_ports.contains(&address.port())
    ///     })
    ///     .build();
    /// # drop(ctx);
    /// ```
    ///
    /// [`allow_unix_dir`]: NativesockCtxBuilder::allow_unix_dir
    /// [`allow_abstract_unix`]: NativesockCtxBuilder::allow_abstract_unix
    pub fn address_check(
        &mut self,
        check: impl Fn(SocketAddr, AddressUse) -> bool + Send + Sync + 'static,
    ) -> &mut Self {
        self.policy.check = Some(Arc::new(check));
        self
    }

    /// Gives `wasi:sockets` the grants of this builder, so that a guest
    /// that also imports it (Rust's `std::net`, wasi-libc's sockets,
    /// componentize-py's own `socket` module) may do through it what it
    /// may do through nativesock, and no more. Call it after the grants;
    /// the CLI does it for every run.
    ///
    /// It sets wasmtime-wasi's `socket_addr_check` from the rules and the
    /// [`address_check`], allows TCP and UDP, and name lookups as
    /// [`allow_name_lookup`] says; [`inherit_network`] allows every
    /// address. wasmtime-wasi asks about other moments of a call than
    /// nativesock does, so its questions are answered as follows:
    ///
    /// | wasmtime-wasi asks | answered by |
    /// |---|---|
    /// | `TcpConnect` | [`allow_connect`] |
    /// | `TcpBind`, `UdpBind` | [`allow_bind`]; the wildcard address with port 0 (what `connect`, a UDP send and `listen` bind implicitly) is always allowed, as nativesock's `connect` and `sendto` need no bind grant |
    /// | `TcpListen` | [`allow_bind`], for the local address or, for an ephemeral port, the same address with port 0, as nativesock checks `listen`'s implicit bind |
    /// | `UdpSend` (also a UDP `connect`) | [`allow_sendto`] or [`allow_connect`]: a nativesock guest may send on a datagram socket connected to what it may connect to |
    /// | `TcpAccept`, `UdpReceive` | allowed: nativesock does not filter peers |
    ///
    /// ```
    /// let mut nativesock = nativesock::NativesockCtx::builder();
    /// nativesock.allow_connect("127.0.0.1:8080".parse()?);
    /// let mut wasi = wasmtime_wasi::WasiCtx::builder();
    /// nativesock.configure_wasi_sockets(&mut wasi);
    /// let (wasi, nativesock) = (wasi.build(), nativesock.build());
    /// # drop((wasi, nativesock));
    /// # Ok::<(), wasmtime::Error>(())
    /// ```
    ///
    /// [`address_check`]: NativesockCtxBuilder::address_check
    /// [`allow_name_lookup`]: NativesockCtxBuilder::allow_name_lookup
    /// [`inherit_network`]: NativesockCtxBuilder::inherit_network
    /// [`allow_connect`]: NativesockCtxBuilder::allow_connect
    /// [`allow_bind`]: NativesockCtxBuilder::allow_bind
    /// [`allow_sendto`]: NativesockCtxBuilder::allow_sendto
    pub fn configure_wasi_sockets(&self, wasi: &mut wasmtime_wasi::WasiCtxBuilder) -> &Self {
        let policy = Arc::new(self.policy.clone());
        wasi.allow_tcp(true)
            .allow_udp(true)
            .allow_ip_name_lookup(self.policy.name_lookup)
            .socket_addr_check(move |address, use_| {
                let allowed = policy.check_wasi(address, use_);
                Box::pin(async move { allowed })
            });
        self
    }

    /// Adds an audit hook. Every hook sees every audit event, in the order
    /// they were added, until one returns `Err`: that exception is raised
    /// in the guest and the audited call does not happen (the remaining
    /// hooks are not called, as in CPython).
    ///
    /// The host raises two events of its own, which every hook sees and
    /// none can change (an `Err` is ignored: the call already failed):
    ///
    /// * [`DENIED_EVENT`], `nativesock.denied(operation, ...)`, when the
    ///   policy refuses a call with `EACCES`: `("socket", family, type,
    ///   proto)`, `("connect" | "bind" | "sendto" | "listen", fd, address)`,
    ///   `("getaddrinfo", host)` or `("getnameinfo", address)`. An address
    ///   is `(host, port)`, `(host, port, flowinfo, scope_id)`, a unix path
    ///   as a `str` (`bytes` when it is not UTF-8 or is an abstract name) or
    ///   `(family, bytes)` for another family.
    /// * [`LIMIT_EVENT`], `nativesock.limit(limit, value)`, when a limit
    ///   refuses or ends a call: `("open-sockets", cap)` (`EMFILE`),
    ///   `("send-bytes", cap)` (a datagram over the cap, `EMSGSIZE`) or
    ///   `("blocking-ms", cap)` (`ETIMEDOUT`).
    pub fn audit_hook(
        &mut self,
        hook: impl Fn(&AuditEvent) -> Result<(), Raised> + Send + Sync + 'static,
    ) -> &mut Self {
        self.audit_hooks.push(Arc::new(hook));
        self
    }

    /// Sets what `check-signals` runs: `Err` raises that exception in the
    /// guest (`KeyboardInterrupt` for Ctrl-C). The guest asks after a call
    /// fails with `EINTR`, as CPython's `PyErr_CheckSignals()`.
    pub fn signal_check(
        &mut self,
        check: impl Fn() -> Result<(), Raised> + Send + Sync + 'static,
    ) -> &mut Self {
        self.signal_check = Some(Arc::new(check));
        self
    }

    /// Sets a fault injector, for tests: consulted before each system call
    /// (after the fd and policy checks), `Some(errno)` makes the call fail
    /// with `errno` without making it. For `getaddrinfo` and `getnameinfo`
    /// a positive value is an errno behind `EAI_SYSTEM` and a negative value
    /// an `EAI_*` code. [`inject_faults`] also injects short writes and reads;
    /// the last of the two set wins.
    ///
    /// [`inject_faults`]: NativesockCtxBuilder::inject_faults
    pub fn fault_injector(
        &mut self,
        f: impl Fn(Call) -> Option<i32> + Send + Sync + 'static,
    ) -> &mut Self {
        self.fault_injector = Some(Arc::new(move |call| f(call).map(Fault::Errno)));
        self
    }

    /// Sets a fault injector, for tests: consulted before each system call
    /// (after the fd and policy checks), it may fail the call with an errno
    /// without making it (`EINTR`, `EAGAIN`, `ENOBUFS`, `ECONNRESET`...) or
    /// make a `send`/`sendto` short ([`Fault::ShortWrite`]) or a
    /// `recv`/`recvfrom` short ([`Fault::ShortRead`]). This drives the
    /// guest's retry and partial-send paths from tests.
    pub fn inject_faults(
        &mut self,
        f: impl Fn(Call) -> Option<Fault> + Send + Sync + 'static,
    ) -> &mut Self {
        self.fault_injector = Some(Arc::new(f));
        self
    }

    /// Gives the store an existing socket (an inherited or pre-opened
    /// listener, for instance). The store owns it from [`build`] on, under
    /// its current fd number, and closes it when dropped.
    ///
    /// [`build`]: NativesockCtxBuilder::build
    pub fn grant_fd(&mut self, fd: OwnedFd) -> &mut Self {
        self.granted.push(fd);
        self
    }

    /// Caps the bytes one `recv`/`recvfrom`/`recvmsg` on a stream socket
    /// returns (and allocates), whatever length the guest asks for. A
    /// datagram or seqpacket socket asked for more than the cap gets a
    /// buffer the size of its next message instead, so the cap never cuts
    /// a message. Default [`DEFAULT_MAX_RECV_BYTES`]; 0 is taken as 1.
    pub fn max_recv_bytes(&mut self, n: u32) -> &mut Self {
        self.max_recv_bytes = n.max(1);
        self
    }

    /// Caps the bytes one `send`/`sendto` hands the kernel, whatever the
    /// guest passes. On a stream socket the rest is simply not sent yet (a
    /// short write, which `sendall` continues); a datagram longer than the
    /// cap fails with `EMSGSIZE`, as one too long for the kernel would.
    /// Default [`DEFAULT_MAX_SEND_BYTES`]; 0 is taken as 1. The CLI's
    /// `--max-send-bytes N`.
    pub fn max_send_bytes(&mut self, n: u32) -> &mut Self {
        self.max_send_bytes = n.max(1);
        self
    }

    /// Caps the fds the store owns at once (created, accepted, duplicated
    /// and granted ones alike): past it `socket`, `socketpair`, `accept`
    /// and `dup` fail with `EMFILE` without making the call (a pending
    /// connection stays queued, as with the real limit). Default
    /// [`DEFAULT_MAX_OPEN_SOCKETS`]. The CLI's `--max-open-sockets N`.
    pub fn max_open_sockets(&mut self, n: u32) -> &mut Self {
        self.max_open_sockets = n;
        self
    }

    /// Caps the time one host call may block in the kernel (`connect`,
    /// `accept`, `send`, `sendto`, `recv`, `recvfrom`, `poll`, `close`):
    /// when it runs out the call fails with `ETIMEDOUT` (`TimeoutError` in
    /// the guest). `poll` waits at most the cap; the other calls are woken
    /// by a signal ([`wake_signal`](crate::wake_signal)) from a watchdog
    /// thread. `None` (the default) lets calls block as long as the kernel
    /// does. The CLI's `--max-blocking-ms MS`.
    pub fn max_blocking_time(&mut self, cap: Option<Duration>) -> &mut Self {
        if cap.is_some() {
            self.calls.arm();
        }
        self.max_blocking_time = cap;
        self
    }

    /// A handle that cancels the blocking calls of the context this
    /// builder builds, from any thread; see [`CancelHandle`].
    pub fn cancel_handle(&mut self) -> CancelHandle {
        CancelHandle::new(&self.calls)
    }

    /// Builds the context.
    ///
    /// # Panics
    ///
    /// When called twice on the same builder (the granted fds have moved
    /// into the first context), as `wasmtime_wasi::WasiCtxBuilder::build`.
    pub fn build(&mut self) -> NativesockCtx {
        assert!(!self.built, "a `NativesockCtxBuilder` builds one context");
        self.built = true;
        let mut ctx = NativesockCtx {
            fds: FdTable::default(),
            policy: std::mem::take(&mut self.policy),
            audit_hooks: std::mem::take(&mut self.audit_hooks),
            signal_check: self.signal_check.take(),
            fault_injector: self.fault_injector.take(),
            max_recv_bytes: usize::try_from(self.max_recv_bytes).unwrap_or(usize::MAX),
            max_send_bytes: usize::try_from(self.max_send_bytes).unwrap_or(usize::MAX),
            max_open_sockets: usize::try_from(self.max_open_sockets).unwrap_or(usize::MAX),
            max_blocking_time: self.max_blocking_time,
            calls: self.calls.clone(),
        };
        for fd in self.granted.drain(..) {
            ctx.grant_fd(fd);
        }
        ctx
    }
}

/// A store's limits ([`NativesockCtx::limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// [`NativesockCtxBuilder::max_recv_bytes`].
    pub max_recv_bytes: usize,
    /// [`NativesockCtxBuilder::max_send_bytes`].
    pub max_send_bytes: usize,
    /// [`NativesockCtxBuilder::max_open_sockets`].
    pub max_open_sockets: usize,
    /// [`NativesockCtxBuilder::max_blocking_time`].
    pub max_blocking_time: Option<Duration>,
}

/// A store's view of its [`NativesockCtx`]: implement this on the store's
/// data type to use [`add_to_linker`](crate::add_to_linker).
///
/// ```
/// use nativesock::{NativesockCtx, NativesockCtxView, NativesockView};
///
/// struct MyState {
///     nativesock: NativesockCtx,
/// }
///
/// impl NativesockView for MyState {
///     fn nativesock(&mut self) -> NativesockCtxView<'_> {
///         NativesockCtxView { ctx: &mut self.nativesock }
///     }
/// }
/// ```
pub trait NativesockView: Send {
    /// The store's nativesock state.
    fn nativesock(&mut self) -> NativesockCtxView<'_>;
}

/// A borrowed [`NativesockCtx`], on which the `nativesock:socket/native`
/// host functions are implemented.
pub struct NativesockCtxView<'a> {
    /// The store's nativesock state.
    pub ctx: &'a mut NativesockCtx,
}

impl NativesockView for NativesockCtx {
    fn nativesock(&mut self) -> NativesockCtxView<'_> {
        NativesockCtxView { ctx: self }
    }
}

impl NativesockCtx {
    /// A [`NativesockCtxBuilder`] with its defaults: no network.
    pub fn builder() -> NativesockCtxBuilder {
        NativesockCtxBuilder::new()
    }

    /// A handle that cancels this store's blocking calls from any thread;
    /// see [`CancelHandle`]. Take it before the store runs (or through
    /// `Store::data_mut` between calls).
    pub fn cancel_handle(&mut self) -> CancelHandle {
        CancelHandle::new(&self.calls)
    }

    /// Gives the store an existing socket while it runs; returns its fd
    /// number, the one the guest uses.
    pub fn grant_fd(&mut self, fd: OwnedFd) -> RawFd {
        let n = fd.as_raw_fd();
        self.insert(fd);
        self.note_passcred(n);
        n
    }

    /// Adds `n` to the fds with `SO_PASSCRED` or `SO_PASSPIDFD` on if its
    /// socket has either: for the fds that come into the store already made
    /// (granted, or received with `SCM_RIGHTS`: a guest could turn the
    /// option on and pass the socket to itself).
    fn note_passcred(&mut self, n: RawFd) {
        let Ok(fd) = self.fd(n) else {
            return;
        };
        let on = [libc::SO_PASSCRED, SO_PASSPIDFD].into_iter().any(|name| {
            sys::getsockopt(fd, libc::SOL_SOCKET, name, 4).is_ok_and(|v| v.iter().any(|&b| b != 0))
        });
        if on {
            self.fds.passcred.insert(n);
        }
    }

    /// Whether the store owns fd `fd`.
    pub fn owns_fd(&self, fd: RawFd) -> bool {
        self.fds.contains(fd)
    }

    /// The fds the store owns, in increasing order (tests only).
    #[cfg(test)]
    pub(crate) fn owned_fds(&self) -> Vec<RawFd> {
        self.fds.numbers()
    }

    /// The copies of the fds the store has in flight (tests only).
    #[cfg(test)]
    pub(crate) fn parked_fds(&self) -> Vec<RawFd> {
        self.fds
            .parked
            .copies
            .values()
            .map(|(fd, _)| fd.as_raw_fd())
            .collect()
    }

    /// Takes fd `fd` back from the store (the guest can no longer name it);
    /// `None` if the store does not own it.
    pub fn take_fd(&mut self, fd: RawFd) -> Option<OwnedFd> {
        self.fds.remove(fd)
    }

    /// Whether the policy lets the guest `use_` the IP `address`: what a
    /// `connect`, `bind` or `sendto` to it would be checked against (rules,
    /// [`address_check`], [`inherit_network`]), for an embedder that logs
    /// or checks a store's grants.
    ///
    /// [`address_check`]: NativesockCtxBuilder::address_check
    /// [`inherit_network`]: NativesockCtxBuilder::inherit_network
    pub fn allows(&self, use_: AddressUse, address: SocketAddr) -> bool {
        let address = match address {
            SocketAddr::V4(a) => SockAddr::Inet(a),
            SocketAddr::V6(a) => SockAddr::Inet6(a),
        };
        self.policy.check_address(use_, &address).is_ok()
    }

    /// Whether the policy lets the guest `use_` the unix socket `name`: a
    /// path (resolved now, as a call would be), or an abstract name when
    /// it starts with a NUL byte.
    pub fn allows_unix(&self, use_: AddressUse, name: &[u8]) -> bool {
        self.policy
            .check_address(use_, &SockAddr::Unix(name.to_vec()))
            .is_ok()
    }

    /// Whether name lookups are granted ([`allow_name_lookup`]).
    ///
    /// [`allow_name_lookup`]: NativesockCtxBuilder::allow_name_lookup
    pub fn allows_name_lookup(&self) -> bool {
        self.policy.name_lookup
    }

    /// Whether the store has everything ([`inherit_network`]).
    ///
    /// [`inherit_network`]: NativesockCtxBuilder::inherit_network
    pub fn inherits_network(&self) -> bool {
        self.policy.inherit_network
    }

    /// Whether `setsockopt(level, name)` passes the option policy (the
    /// default list, [`allow_sockopt`], or [`inherit_network`]).
    ///
    /// [`allow_sockopt`]: NativesockCtxBuilder::allow_sockopt
    /// [`inherit_network`]: NativesockCtxBuilder::inherit_network
    pub fn allows_sockopt(&self, level: i32, name: i32) -> bool {
        self.policy.may_set_option(level, name).is_ok()
    }

    /// The store's limits, as the builder set them.
    pub fn limits(&self) -> Limits {
        Limits {
            max_recv_bytes: self.max_recv_bytes,
            max_send_bytes: self.max_send_bytes,
            max_open_sockets: self.max_open_sockets,
            max_blocking_time: self.max_blocking_time,
        }
    }

    fn insert(&mut self, fd: OwnedFd) -> RawFd {
        self.fds.insert(fd)
    }

    /// The fd, if this store owns it; `EBADF` otherwise, whatever the
    /// process has open under that number.
    fn fd(&self, fd: RawFd) -> Result<BorrowedFd<'_>, Errno> {
        self.fds.get(fd)
    }

    /// Asks the fault injector about `call`: `Err` for an injected errno,
    /// otherwise the most bytes the call may move (`usize::MAX`: no limit).
    fn fault(&self, call: Call) -> Result<usize, Errno> {
        match self.fault_injector.as_ref().and_then(|f| f(call)) {
            Some(Fault::Errno(errno)) => {
                tracing::debug!(?call, errno, "injected fault");
                Err(errno)
            }
            Some(Fault::ShortWrite(n)) if matches!(call, Call::Send | Call::Sendto) => {
                tracing::debug!(?call, n, "injected short write");
                Ok(n.max(1))
            }
            Some(Fault::ShortRead(n)) if matches!(call, Call::Recv | Call::Recvfrom) => {
                tracing::debug!(?call, n, "injected short read");
                Ok(n.max(1))
            }
            _ => Ok(usize::MAX),
        }
    }

    fn gai_fault(&self, call: Call) -> Result<(), GaiError> {
        match self.fault_injector.as_ref().and_then(|f| f(call)) {
            Some(Fault::Errno(code)) if code < 0 => Err(GaiError::from_code(code, 0)),
            Some(Fault::Errno(errno)) => Err(GaiError::system(errno)),
            _ => Ok(()),
        }
    }

    /// Tells every audit hook about a host event; their answers are
    /// ignored (the call has already failed or is going ahead).
    fn notify(&self, name: &str, args: Vec<AuditArg>) {
        if self.audit_hooks.is_empty() {
            return;
        }
        let event = AuditEvent {
            name: name.to_owned(),
            args,
        };
        for hook in &self.audit_hooks {
            let _ = hook(&event);
        }
    }

    /// `EACCES`, after raising [`DENIED_EVENT`] with `args` after the operation.
    fn denied(&self, operation: &str, mut args: Vec<AuditArg>) -> Errno {
        tracing::debug!(operation, "denied by the policy");
        args.insert(0, AuditArg::Scalar(AuditScalar::Str(operation.to_owned())));
        self.notify(DENIED_EVENT, args);
        libc::EACCES
    }

    /// `errno`, after raising [`LIMIT_EVENT`] for `limit` and its value.
    fn limited(&self, limit: &str, value: u64, errno: Errno) -> Errno {
        tracing::debug!(limit, value, errno, "store limit reached");
        self.notify(
            LIMIT_EVENT,
            vec![
                AuditArg::Scalar(AuditScalar::Str(limit.to_owned())),
                AuditArg::Scalar(AuditScalar::Int(i64::try_from(value).unwrap_or(i64::MAX))),
            ],
        );
        errno
    }

    /// Checks `address` for `op` on `fd`, raising the denial event as `operation`.
    fn check_address(
        &self,
        op: AddressUse,
        operation: &str,
        fd: RawFd,
        address: &SockAddr,
    ) -> Result<(), Errno> {
        self.policy
            .check_address(op, address)
            .map_err(|_| self.denied(operation, vec![int_arg(fd.into()), address_arg(address)]))
    }

    /// `fd`, unless its number is within [`HOST_FD_RESERVE`] of the
    /// process's fd limit: then it is closed and the call fails with
    /// `EMFILE` (and [`LIMIT_EVENT`] `("host-fds", room)`), so the host's
    /// own next file or pipe still opens.
    fn admit(&self, fd: OwnedFd) -> Result<OwnedFd, Errno> {
        let room = sys::nofile_limit().saturating_sub(u64::from(HOST_FD_RESERVE));
        if u64::try_from(fd.as_raw_fd()).unwrap_or(u64::MAX) < room {
            return Ok(fd);
        }
        drop(fd);
        Err(self.limited("host-fds", room, libc::EMFILE))
    }

    /// `EMFILE` unless the store may own `n` more fds (those it sent and
    /// nobody has received yet count too).
    fn check_room(&self, n: usize) -> Result<(), Errno> {
        let held = self.fds.held();
        if held.saturating_add(n) > self.max_open_sockets {
            let cap = u64::try_from(self.max_open_sockets).unwrap_or(u64::MAX);
            return Err(self.limited("open-sockets", cap, libc::EMFILE));
        }
        Ok(())
    }

    /// Runs a system call that may block, so that the store's cancel handle
    /// and blocking time cap can wake it (`always`: even when cancelled).
    pub(crate) fn blocking<R>(
        &self,
        always: bool,
        call: impl FnOnce() -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        let result = cancel::blocking(&self.calls, self.max_blocking_time, always, call);
        if let (Err(libc::ETIMEDOUT), Some(cap)) = (&result, self.max_blocking_time) {
            let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
            return Err(self.limited("blocking-ms", ms, libc::ETIMEDOUT));
        }
        result
    }

    /// The store's blocking-call state (cancellation), for `wait.rs`.
    pub(crate) fn calls(&self) -> &CallState {
        &self.calls
    }

    /// The blocking time cap, for `wait.rs`.
    pub(crate) fn blocking_cap(&self) -> Option<Duration> {
        self.max_blocking_time
    }

    /// The cap ran out in a call that awaited readiness: the limit event,
    /// and the call's `ETIMEDOUT`.
    pub(crate) fn blocking_timed_out(&self) -> Errno {
        let ms = self.max_blocking_time.map_or(u64::MAX, |cap| {
            u64::try_from(cap.as_millis()).unwrap_or(u64::MAX)
        });
        self.limited("blocking-ms", ms, libc::ETIMEDOUT)
    }

    pub(crate) fn check_signals(&mut self) -> Result<(), Raised> {
        if self.calls.is_cancelled() {
            return Err(self.calls.raised());
        }
        match &self.signal_check {
            Some(check) => check(),
            None => Ok(()),
        }
    }

    /// Whether any audit hook is installed (fixed when the context is built).
    pub(crate) fn audit_hooked(&self) -> bool {
        !self.audit_hooks.is_empty()
    }

    /// A guest's audit event, for the hooks. Names under `nativesock.` are
    /// the host's own ([`DENIED_EVENT`], [`LIMIT_EVENT`]): a guest raising
    /// one gets `ValueError` and no hook sees it, so no log line that looks
    /// like the host's can come from a guest.
    pub(crate) fn audit(&mut self, event: &AuditEvent) -> Result<(), Raised> {
        if event.name.starts_with(HOST_EVENT_PREFIX) {
            return Err(Raised::new(
                "ValueError",
                format!("audit event names starting with {HOST_EVENT_PREFIX:?} are the host's"),
            ));
        }
        self.audit_hooks.iter().try_for_each(|hook| hook(event))
    }
}

fn default_max_open_sockets() -> u32 {
    let room = sys::nofile_limit().saturating_sub(u64::from(HOST_FD_RESERVE));
    u32::try_from(room)
        .unwrap_or(u32::MAX)
        .clamp(1, DEFAULT_MAX_OPEN_SOCKETS)
}

/// The port of an IP address.
fn local_port(address: &SockAddr) -> Option<u16> {
    match address {
        SockAddr::Inet(a) => Some(a.port()),
        SockAddr::Inet6(a) => Some(a.port()),
        _ => None,
    }
}

mod connection;
mod io;
mod netdb;
mod options;
#[cfg(test)]
mod tests;
