//! Per-store state: the fds a store owns, its policy and its hooks, and the
//! native operations checked against them. Plain Rust: the bindings in
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
    /// Every address a `connect`, `bind` or `sendto` system call was made
    /// with, for the fuzz target's policy invariant.
    #[cfg(test)]
    pub(crate) reached: std::sync::Mutex<Vec<(AddressUse, SockAddr)>>,
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
            #[cfg(test)]
            reached: std::sync::Mutex::default(),
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

    /// The socket's `SO_TYPE`, if it has one.
    fn socket_type(fd: BorrowedFd<'_>) -> Option<i32> {
        let raw = sys::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, 4).ok()?;
        Some(i32::from_ne_bytes(raw.try_into().ok()?))
    }

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

    pub(crate) fn close(&mut self, fd: RawFd) -> Result<(), Errno> {
        let owned = self.take_fd(fd).ok_or(libc::EBADF)?;
        // The fd leaves the store whatever happens; an injected fault still closes it.
        self.fault(Call::Close)?;
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
    fn unix_target(
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
    fn destination<'a>(
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
    fn check_autobind(&self, operation: &str, n: RawFd, fd: BorrowedFd<'_>) -> Result<(), Errno> {
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
    fn check_bind(
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

    /// Records an address a system call is about to be made with (tests only).
    #[cfg(test)]
    fn reached(&self, op: AddressUse, address: &SockAddr) {
        self.reached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((op, address.clone()));
    }

    #[cfg(not(test))]
    fn reached(&self, _: AddressUse, _: &SockAddr) {}

    pub(crate) fn listen(&mut self, fd: RawFd, backlog: i32) -> Result<(), Errno> {
        let n = fd;
        let fd = self.fd(n)?;
        if !self.policy.inherit_network
            && matches!(
                Self::socket_type(fd),
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
    fn check_set_option(
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

    /// `EACCES` (and the denial event for `operation`) unless the guest
    /// may send with `flags`.
    fn check_send_flags(&self, operation: &str, fd: RawFd, flags: i32) -> Result<(), Errno> {
        self.check_flags(operation, fd, flags, Policy::may_send)
    }

    /// `EACCES` (and the denial event for `operation`) unless the guest
    /// may receive with `flags`.
    fn check_recv_flags(&self, operation: &str, fd: RawFd, flags: i32) -> Result<(), Errno> {
        self.check_flags(operation, fd, flags, Policy::may_recv)
    }

    fn check_flags(
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
    fn send_part<'d>(
        &self,
        fd: BorrowedFd<'_>,
        data: &'d [u8],
        injected: usize,
    ) -> Result<&'d [u8], Errno> {
        let data = &data[..data.len().min(injected)];
        if data.len() <= self.max_send_bytes {
            return Ok(data);
        }
        match Self::socket_type(fd) {
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
            match Self::socket_type(fd) {
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
    fn recv_len(&self, fd: BorrowedFd<'_>, length: u32, flags: i32) -> Result<usize, Errno> {
        let asked = usize::try_from(length).unwrap_or(usize::MAX);
        if asked <= self.max_recv_bytes {
            return Ok(asked);
        }
        match Self::socket_type(fd) {
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
        wait::wait(mode, this, fd, Wait::READ.flags(flags), |nonblocking| {
            let flags = flags | dontwait(nonblocking);
            let length = this.recv_len(fd, length, flags)?.min(injected);
            sys::recv(fd, length, flags)
        })
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
        let op = match Self::socket_type(fd) {
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
        let sent = wait::wait(mode, self, fd, Wait::WRITE.flags(flags), |nonblocking| {
            sys::sendmsg(fd, buffers, &pass, flags | dontwait(nonblocking), target)
        })
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

    /// `gethostbyname_r`: a numeric IPv4 address needs no grant.
    pub(crate) fn gethostbyname(&mut self, name: &str) -> Result<sys::HostEnt, sys::HostError> {
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
        self.lookup(move || sys::gethostbyname(&name), sys::HostError::errno)
    }

    /// `gethostbyaddr_r`: a reverse lookup always needs the grant.
    pub(crate) fn gethostbyaddr(
        &mut self,
        address: &SockAddr,
    ) -> Result<sys::HostEnt, sys::HostError> {
        if !self.policy.name_lookup {
            return Err(sys::HostError::errno(
                self.denied("gethostbyaddr", vec![address_arg(address)]),
            ));
        }
        let address = address.clone();
        self.lookup(move || sys::gethostbyaddr(&address), sys::HostError::errno)
    }

    /// `getservbyname_r`: the local services database, no grant needed.
    pub(crate) fn getservbyname(&mut self, name: &str, proto: Option<&str>) -> Option<u16> {
        sys::getservbyname(name, proto)
    }

    /// `getservbyport_r`: the local services database, no grant needed.
    pub(crate) fn getservbyport(&mut self, port: u16, proto: Option<&str>) -> Option<String> {
        sys::getservbyport(port, proto)
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

    pub(crate) fn getaddrinfo(
        &mut self,
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
        self.lookup(
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
    }

    pub(crate) fn getnameinfo(
        &mut self,
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
        self.lookup(move || sys::getnameinfo(&address, flags), GaiError::system)
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
    pub(crate) fn lookup<R: Send + 'static, E: Send + 'static>(
        &self,
        call: impl FnOnce() -> Result<R, E> + Send + 'static,
        errno: fn(Errno) -> E,
    ) -> Result<R, E> {
        use std::sync::atomic::{AtomicUsize, Ordering};
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

/// [`DEFAULT_MAX_OPEN_SOCKETS`], or less under a low `RLIMIT_NOFILE`.
/// The flag that makes a send or receive not wait, when the mode asks.
fn dontwait(nonblocking: bool) -> i32 {
    if nonblocking { libc::MSG_DONTWAIT } else { 0 }
}

fn default_max_open_sockets() -> u32 {
    let room = sys::nofile_limit().saturating_sub(u64::from(HOST_FD_RESERVE));
    u32::try_from(room)
        .unwrap_or(u32::MAX)
        .clamp(1, DEFAULT_MAX_OPEN_SOCKETS)
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

/// An int audit argument.
fn int_arg(i: i64) -> AuditArg {
    AuditArg::Scalar(AuditScalar::Int(i))
}

/// `(fd, level, name)` as audit arguments.
fn sockopt_args(fd: RawFd, level: i32, name: i32) -> Vec<AuditArg> {
    vec![
        int_arg(fd.into()),
        int_arg(level.into()),
        int_arg(name.into()),
    ]
}

/// `(family, type, proto)` as audit arguments.
fn socket_args(family: i32, socket_type: i32, proto: i32) -> Vec<AuditArg> {
    vec![
        int_arg(family.into()),
        int_arg(socket_type.into()),
        int_arg(proto.into()),
    ]
}

/// An address as the denial event shows it: `(host, port)`,
/// `(host, port, flowinfo, scope_id)`, a unix path as a `str` (`bytes`
/// when abstract or not UTF-8), `None` for `AF_UNSPEC`, `(family, bytes)`
/// otherwise.
fn address_arg(address: &SockAddr) -> AuditArg {
    use AuditScalar::{Bytes, Int, Str};
    match address {
        SockAddr::Unspec => AuditArg::Scalar(AuditScalar::None),
        SockAddr::Inet(a) => AuditArg::Tuple(vec![Str(a.ip().to_string()), Int(a.port().into())]),
        SockAddr::Inet6(a) => AuditArg::Tuple(vec![
            Str(a.ip().to_string()),
            Int(a.port().into()),
            Int(a.flowinfo().into()),
            Int(a.scope_id().into()),
        ]),
        SockAddr::Unix(name) => match std::str::from_utf8(name) {
            Ok(path) if name.first().is_some_and(|&b| b != 0) => {
                AuditArg::Scalar(Str(path.to_owned()))
            }
            _ => AuditArg::Scalar(Bytes(name.clone())),
        },
        SockAddr::Other(family, data) => {
            AuditArg::Tuple(vec![Int((*family).into()), Bytes(data.clone())])
        }
    }
}

/// The port of an IP address.
fn local_port(address: &SockAddr) -> Option<u16> {
    match address {
        SockAddr::Inet(a) => Some(a.port()),
        SockAddr::Inet6(a) => Some(a.port()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    fn loopback(port: u16) -> SockAddr {
        SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
    }

    fn loopback6(port: u16) -> SockAddr {
        SockAddr::Inet6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0))
    }

    fn rule(s: &str) -> AddressRule {
        s.parse().unwrap()
    }

    /// A context allowed loopback only.
    fn loopback_ctx() -> NativesockCtx {
        NativesockCtx::builder()
            .allow_connect(rule("127.0.0.0/8"))
            .allow_bind(rule("127.0.0.0/8"))
            .allow_sendto(rule("127.0.0.0/8"))
            .allow_connect(rule("::1"))
            .allow_bind(rule("::1"))
            .allow_sendto(rule("::1"))
            .build()
    }

    fn port_of(addr: &SockAddr) -> u16 {
        local_port(addr).expect("an IP address")
    }

    /// A listening TCP socket on 127.0.0.1 with an ephemeral port.
    fn listener(ctx: &mut NativesockCtx) -> (RawFd, u16) {
        let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        ctx.bind(fd, &loopback(0)).unwrap();
        ctx.listen(fd, 8).unwrap();
        let port = port_of(&ctx.getsockname(fd).unwrap());
        (fd, port)
    }

    /// A connected TCP pair over loopback: (client, accepted).
    fn tcp_pair(ctx: &mut NativesockCtx) -> (RawFd, RawFd) {
        let (l, port) = listener(ctx);
        let c = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        ctx.connect(c, &loopback(port)).unwrap();
        let (a, peer) = ctx.accept(l, 0).unwrap();
        assert_eq!(peer, ctx.getsockname(c).unwrap());
        ctx.close(l).unwrap();
        (c, a)
    }

    /// A port on 127.0.0.1 where nothing listens (bound, then closed).
    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    #[test]
    fn connect_to_a_closed_port_is_econnrefused() {
        let mut ctx = loopback_ctx();
        let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        assert_eq!(
            ctx.connect(fd, &loopback(closed_port())),
            Err(libc::ECONNREFUSED)
        );
        assert_eq!(libc::ECONNREFUSED, 111);
    }

    #[test]
    fn nonblocking_connect_is_einprogress_then_poll_and_so_error() {
        let mut ctx = loopback_ctx();
        let (_l, port) = listener(&mut ctx);
        let fd = ctx
            .socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)
            .unwrap();
        assert!(ctx.get_nonblocking(fd).unwrap());
        match ctx.connect(fd, &loopback(port)) {
            Ok(()) => {}
            Err(e) => assert_eq!(e, libc::EINPROGRESS),
        }
        let revents = ctx.poll(fd, libc::POLLOUT | libc::POLLERR, 5000).unwrap();
        assert_ne!(revents & libc::POLLOUT, 0);
        let err = ctx
            .getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, 4)
            .unwrap();
        assert_eq!(i32::from_ne_bytes(err.try_into().unwrap()), 0);

        // The refused case reports ECONNREFUSED through SO_ERROR.
        let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        ctx.set_nonblocking(fd, true).unwrap();
        let _ = ctx.connect(fd, &loopback(closed_port()));
        let revents = ctx.poll(fd, libc::POLLOUT | libc::POLLERR, 5000).unwrap();
        assert_ne!(revents & libc::POLLERR, 0);
        let err = ctx
            .getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, 4)
            .unwrap();
        assert_eq!(
            i32::from_ne_bytes(err.try_into().unwrap()),
            libc::ECONNREFUSED
        );
    }

    #[test]
    fn sockets_are_close_on_exec_and_cloexec_can_change() {
        let mut ctx = loopback_ctx();
        let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        assert!(ctx.get_cloexec(fd).unwrap());
        let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        assert!(ctx.get_cloexec(a).unwrap() && ctx.get_cloexec(b).unwrap());
        let d = ctx.dup(fd).unwrap();
        assert_ne!(d, fd);
        assert!(ctx.get_cloexec(d).unwrap());
        ctx.set_cloexec(d, false).unwrap();
        assert!(!ctx.get_cloexec(d).unwrap());
        assert!(ctx.get_cloexec(fd).unwrap(), "FD_CLOEXEC is per fd");
        // O_NONBLOCK is per open file: shared with the dup.
        ctx.set_nonblocking(fd, true).unwrap();
        assert!(ctx.get_nonblocking(d).unwrap());
        let (l, port) = listener(&mut ctx);
        let c = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        ctx.connect(c, &loopback(port)).unwrap();
        let (acc, _) = ctx.accept(l, 0).unwrap();
        assert!(ctx.get_cloexec(acc).unwrap());
        assert!(!ctx.get_nonblocking(acc).unwrap());
        let c2 = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        ctx.connect(c2, &loopback(port)).unwrap();
        let (acc2, _) = ctx.accept(l, libc::SOCK_NONBLOCK).unwrap();
        assert!(ctx.get_cloexec(acc2).unwrap() && ctx.get_nonblocking(acc2).unwrap());
    }

    #[test]
    fn unowned_fds_are_ebadf_even_stdio_and_other_stores() {
        let mut ctx = loopback_ctx();
        let mut other = loopback_ctx();
        let theirs = other.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        let host_file = std::fs::File::open("/proc/self/stat").unwrap();
        for fd in [0, 1, 2, -1, i32::MAX, theirs, host_file.as_raw_fd()] {
            assert_eq!(ctx.getsockname(fd), Err(libc::EBADF), "fd {fd}");
            assert_eq!(ctx.send(fd, b"x", 0), Err(libc::EBADF), "fd {fd}");
            assert_eq!(ctx.recv(fd, 1, 0), Err(libc::EBADF), "fd {fd}");
            assert_eq!(ctx.poll(fd, libc::POLLIN, 0), Err(libc::EBADF), "fd {fd}");
            assert_eq!(ctx.dup(fd), Err(libc::EBADF), "fd {fd}");
            assert_eq!(ctx.get_cloexec(fd), Err(libc::EBADF), "fd {fd}");
            assert_eq!(ctx.connect(fd, &loopback(1)), Err(libc::EBADF), "fd {fd}");
            assert_eq!(ctx.close(fd), Err(libc::EBADF), "fd {fd}");
        }
        // Nothing was closed behind their backs.
        assert!(other.get_cloexec(theirs).unwrap());
        assert!(rustix::io::fcntl_getfd(&host_file).is_ok());
        assert!(rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(2) }).is_ok());
    }

    #[test]
    fn close_removes_the_fd_even_when_close_fails() {
        let fail_close = Arc::new(AtomicUsize::new(0));
        let flag = fail_close.clone();
        let mut ctx = NativesockCtx::builder()
            .fault_injector(move |call| {
                (call == Call::Close && flag.load(Ordering::SeqCst) == 1).then_some(libc::EIO)
            })
            .build();
        let fd = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        assert!(ctx.owns_fd(fd));
        ctx.close(fd).unwrap();
        assert!(!ctx.owns_fd(fd));
        assert_eq!(ctx.close(fd), Err(libc::EBADF));
        let fd = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        fail_close.store(1, Ordering::SeqCst);
        assert_eq!(ctx.close(fd), Err(libc::EIO));
        assert!(!ctx.owns_fd(fd));
        assert_eq!(ctx.getsockname(fd), Err(libc::EBADF));
    }

    #[test]
    fn dropping_the_ctx_closes_every_fd_it_owns() {
        use std::io::Read;
        let (granted, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut ctx = loopback_ctx();
        let g = ctx.grant_fd(granted.into());
        ctx.dup(g).unwrap();
        let (_l, port) = listener(&mut ctx);
        drop(ctx);
        // Both the granted fd and its dup are closed: the peer sees end of stream.
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(peer.read(&mut [0; 1]).unwrap(), 0);
        // The listener is closed: its port refuses connections.
        let refused = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::ECONNREFUSED));
    }

    /// Counts `/proc/self/fd` around a context's life. Other tests open fds
    /// concurrently, so this runs alone in a child process (see the next test).
    #[test]
    #[ignore = "run alone in a child process by `dropping_the_ctx_leaves_no_fd_open`"]
    fn fd_count_child() {
        let before = open_fds();
        let granted = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut ctx = NativesockCtx::builder()
            .allow_connect(rule("127.0.0.1"))
            .allow_bind(rule("127.0.0.1"))
            .grant_fd(granted.into())
            .build();
        for _ in 0..5 {
            ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        }
        let (a, _b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        ctx.dup(a).unwrap();
        let (_c, _d) = tcp_pair(&mut ctx);
        assert_eq!(open_fds(), before + 11);
        drop(ctx);
        assert_eq!(open_fds(), before);
    }

    #[test]
    fn dropping_the_ctx_leaves_no_fd_open() {
        crate::test_support::run_alone("ctx::tests::fd_count_child", Duration::from_secs(60));
    }

    #[test]
    fn granted_fds_are_usable_under_their_number() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        let n = udp.as_raw_fd();
        let mut ctx = NativesockCtx::builder().grant_fd(udp.into()).build();
        assert!(ctx.owns_fd(n));
        assert_eq!(port_of(&ctx.getsockname(n).unwrap()), port);
        let taken = ctx.take_fd(n).unwrap();
        assert_eq!(ctx.getsockname(n), Err(libc::EBADF));
        assert_eq!(ctx.grant_fd(taken), n);
        assert!(ctx.owns_fd(n));
    }

    #[test]
    fn send_and_recv_return_exact_bytes() {
        let mut ctx = loopback_ctx();
        let (c, a) = tcp_pair(&mut ctx);
        assert_eq!(ctx.send(c, b"hello", 0), Ok(5));
        assert_eq!(
            ctx.poll(a, libc::POLLIN, 5000).map(|r| r & libc::POLLIN),
            Ok(libc::POLLIN)
        );
        assert_eq!(ctx.recv(a, 3, libc::MSG_PEEK).unwrap(), b"hel");
        assert_eq!(ctx.recv(a, 1000, 0).unwrap(), b"hello");
        ctx.shutdown(c, libc::SHUT_WR).unwrap();
        assert_eq!(ctx.recv(a, 1000, 0).unwrap(), b"", "end of stream");
        assert_eq!(ctx.recv(a, 0, 0).unwrap(), b"");
        assert_eq!(ctx.recv(a, 10, libc::MSG_DONTWAIT).unwrap(), b"");
        assert_eq!(ctx.shutdown(c, 99), Err(libc::EINVAL));
        let (_c, a2) = tcp_pair(&mut ctx);
        assert_eq!(ctx.recv(a2, 10, libc::MSG_DONTWAIT), Err(libc::EAGAIN));
    }

    #[test]
    fn recv_is_capped_per_call() {
        let mut ctx = NativesockCtx::builder()
            .allow_bind(rule("127.0.0.1"))
            .allow_connect(rule("127.0.0.1"))
            .allow_sendto(rule("127.0.0.1"))
            .max_recv_bytes(4)
            .build();
        let (c, a) = tcp_pair(&mut ctx);
        ctx.send(c, b"0123456789", 0).unwrap();
        ctx.poll(a, libc::POLLIN, 5000).unwrap();
        assert_eq!(ctx.recv(a, u32::MAX, 0).unwrap(), b"0123");
        assert_eq!(ctx.recv(a, 2, 0).unwrap(), b"45");
        let (data, _) = ctx.recvfrom(a, u32::MAX, 0).unwrap();
        assert_eq!(data, b"6789");
        // The cap never cuts a datagram: the host sizes the buffer from it.
        let u = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        ctx.bind(u, &loopback(0)).unwrap();
        let to = ctx.getsockname(u).unwrap();
        ctx.sendto(u, b"abcdefgh", 0, &to).unwrap();
        ctx.poll(u, libc::POLLIN, 5000).unwrap();
        let (data, from) = ctx.recvfrom(u, 100, 0).unwrap();
        assert_eq!(data, b"abcdefgh");
        assert_eq!(from, to);
        // A datagram longer than the guest's own buffer is truncated, and
        // MSG_TRUNC's longer count never exposes bytes that were not written.
        ctx.sendto(u, b"abcdefgh", 0, &to).unwrap();
        let (data, _) = ctx.recvfrom(u, 4, libc::MSG_TRUNC).unwrap();
        assert_eq!(data, b"abcd");
        ctx.sendto(u, b"abcdefgh", 0, &to).unwrap();
        let msg = ctx.recvmsg(u, 2, 0, libc::MSG_TRUNC).unwrap();
        assert_eq!((msg.data.as_slice(), msg.length), (&b"ab"[..], 8));
        assert_eq!(msg.flags & libc::MSG_CMSG_CLOEXEC, 0);
    }

    #[test]
    fn send_to_a_closed_stream_is_epipe_not_sigpipe() {
        let mut ctx = loopback_ctx();
        let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        ctx.close(b).unwrap();
        // Without MSG_NOSIGNAL this would kill the test process.
        assert_eq!(ctx.send(a, b"x", 0), Err(libc::EPIPE));
        let (c, d) = tcp_pair(&mut ctx);
        ctx.close(d).unwrap();
        ctx.shutdown(c, libc::SHUT_WR).unwrap();
        assert_eq!(ctx.send(c, b"x", 0), Err(libc::EPIPE));
    }

    #[test]
    fn sendmsg_is_checked_like_sendto_and_scm_rights_like_fds() {
        let mut ctx = NativesockCtx::builder()
            .allow_bind(rule("127.0.0.1"))
            .allow_sendto(rule("127.0.0.1:1-2"))
            .build();
        let u = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        ctx.bind(u, &loopback(0)).unwrap();
        let me = ctx.getsockname(u).unwrap();
        // Its own port is not granted: no datagram leaves.
        assert_eq!(
            ctx.sendmsg(u, &[b"x".as_slice()], &[], 0, Some(&me)),
            Err(libc::EACCES)
        );
        assert_eq!(
            ctx.sendmsg(u, &[b"x".as_slice()], &[], 0, None),
            Err(libc::EDESTADDRREQ)
        );

        let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        let rights = |fd: RawFd| sys::Cmsg {
            level: libc::SOL_SOCKET,
            kind: libc::SCM_RIGHTS,
            data: fd.to_ne_bytes().to_vec(),
        };
        let stdout = std::io::stdout().as_raw_fd();
        assert_eq!(
            ctx.sendmsg(a, &[b"x".as_slice()], &[rights(stdout)], 0, None),
            Err(libc::EBADF),
            "the host's own fds cannot be passed"
        );
        assert_eq!(
            ctx.sendmsg(a, &[b"fd".as_slice()], &[rights(u)], 0, None),
            Ok(2)
        );
        let msg = ctx.recvmsg(b, 10, 64, 0).unwrap();
        assert_eq!(msg.flags, 0, "MSG_CMSG_CLOEXEC is the host's, not reported");
        let fds: Vec<RawFd> = sys::scm_rights_fds(&msg.ancillary[0].data).collect();
        assert_eq!(fds.len(), 1);
        assert!(ctx.owns_fd(fds[0]), "a received fd is the store's");
        assert_eq!(ctx.get_cloexec(fds[0]), Ok(true));
        assert_eq!(ctx.getsockname(fds[0]).unwrap(), me);
    }

    #[test]
    fn udp_and_ipv6_round_trip() {
        let mut ctx = loopback_ctx();
        let u = ctx.socket(libc::AF_INET6, libc::SOCK_DGRAM, 0).unwrap();
        match ctx.bind(u, &loopback6(0)) {
            Ok(()) => {}
            // A host without IPv6 loopback cannot run this part.
            Err(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT) => return,
            Err(e) => panic!("bind ::1: errno {e}"),
        }
        let me = ctx.getsockname(u).unwrap();
        assert!(matches!(&me, SockAddr::Inet6(a) if *a.ip() == Ipv6Addr::LOCALHOST));
        assert_eq!(ctx.sendto(u, b"ping", 0, &me), Ok(4));
        ctx.poll(u, libc::POLLIN, 5000).unwrap();
        assert_eq!(
            ctx.recvfrom(u, 100, 0).unwrap(),
            (b"ping".to_vec(), me.clone())
        );
        ctx.connect(u, &me).unwrap();
        assert_eq!(ctx.getpeername(u).unwrap(), me);
        assert_eq!(ctx.send(u, b"pong", 0), Ok(4));
        ctx.poll(u, libc::POLLIN, 5000).unwrap();
        assert_eq!(ctx.recv(u, 100, 0).unwrap(), b"pong");
    }

    #[test]
    fn unix_sockets_in_a_granted_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let mut ctx = NativesockCtx::builder().allow_unix_dir(dir.path()).build();
        let addr = SockAddr::Unix(path.as_os_str().as_encoded_bytes().to_vec());
        let l = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        ctx.bind(l, &addr).unwrap();
        ctx.listen(l, 1).unwrap();
        // The kernel reports the path with its NUL: addrlen - 2 bytes.
        let mut reported = path.as_os_str().as_encoded_bytes().to_vec();
        reported.push(0);
        assert_eq!(
            ctx.getsockname(l).unwrap(),
            SockAddr::Unix(reported.clone())
        );
        let c = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        ctx.connect(c, &addr).unwrap();
        let (a, peer) = ctx.accept(l, 0).unwrap();
        assert_eq!(peer, SockAddr::Unix(Vec::new()), "an unnamed peer");
        assert_eq!(ctx.getpeername(c).unwrap(), SockAddr::Unix(reported));
        ctx.send(c, b"hi", 0).unwrap();
        assert_eq!(ctx.recv(a, 10, 0).unwrap(), b"hi");

        // Outside the grant, and escapes through `..`, are EACCES.
        let s = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        let escape = dir.path().join("../escape-from-grant");
        assert_eq!(
            ctx.bind(
                s,
                &SockAddr::Unix(escape.as_os_str().as_encoded_bytes().to_vec())
            ),
            Err(libc::EACCES)
        );
        assert_eq!(
            ctx.connect(s, &SockAddr::Unix(b"/run/x".to_vec())),
            Err(libc::EACCES)
        );
        // Abstract names and autobind need their own grant.
        assert_eq!(
            ctx.bind(s, &SockAddr::Unix(b"\0ns-test".to_vec())),
            Err(libc::EACCES)
        );
        assert_eq!(ctx.bind(s, &SockAddr::Unix(Vec::new())), Err(libc::EACCES));
        assert_eq!(ctx.listen(s, 1), Err(libc::EACCES), "listen would autobind");
        // A path longer than sun_path is EINVAL.
        let long = dir.path().join("x".repeat(200));
        assert_eq!(
            ctx.bind(
                s,
                &SockAddr::Unix(long.as_os_str().as_encoded_bytes().to_vec())
            ),
            Err(libc::EINVAL)
        );
    }

    #[test]
    fn abstract_unix_names_when_granted() {
        let mut ctx = NativesockCtx::builder().allow_abstract_unix(true).build();
        let s = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        ctx.bind(s, &SockAddr::Unix(Vec::new())).unwrap();
        let SockAddr::Unix(name) = ctx.getsockname(s).unwrap() else {
            panic!("not a unix address");
        };
        // Autobind picks a NUL and five hex digits.
        assert_eq!(name.len(), 6);
        assert_eq!(name[0], 0);
        let c = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        ctx.sendto(c, b"dgram", 0, &SockAddr::Unix(name.clone()))
            .unwrap();
        assert_eq!(ctx.recv(s, 100, 0).unwrap(), b"dgram");
        let u = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        let mut exact = b"\0nativesock-test-".to_vec();
        exact.extend_from_slice(std::process::id().to_string().as_bytes());
        ctx.bind(u, &SockAddr::Unix(exact.clone())).unwrap();
        assert_eq!(ctx.getsockname(u).unwrap(), SockAddr::Unix(exact));
    }

    #[test]
    fn policy_is_enforced_at_each_call() {
        let mut ctx = NativesockCtx::builder()
            .allow_connect(rule("127.0.0.1:1-1023"))
            .allow_bind(rule("127.0.0.2"))
            .build();
        let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        assert_eq!(ctx.bind(fd, &loopback(0)), Err(libc::EACCES));
        assert_eq!(ctx.connect(fd, &loopback(8080)), Err(libc::EACCES));
        assert_eq!(
            ctx.listen(fd, 1),
            Err(libc::EACCES),
            "listen would bind 0.0.0.0"
        );
        // A stream socket's sendto needs a connect grant (TCP Fast Open).
        assert_eq!(ctx.sendto(fd, b"x", 0, &loopback(8080)), Err(libc::EACCES));
        ctx.bind(
            fd,
            &SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 0)),
        )
        .unwrap();
        ctx.listen(fd, 1).unwrap();
        let u = ctx.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        assert_eq!(ctx.sendto(u, b"x", 0, &loopback(9)), Err(libc::EACCES));
        let s6 = ctx.socket(libc::AF_INET6, libc::SOCK_STREAM, 0).unwrap();
        let mapped = SockAddr::Inet6(SocketAddrV6::new(
            Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped(),
            80,
            0,
            0,
        ));
        assert_eq!(ctx.connect(s6, &mapped), Err(libc::EACCES));
        assert_eq!(
            ctx.socket(libc::AF_PACKET, libc::SOCK_RAW, 0),
            Err(libc::EACCES)
        );
        assert_eq!(
            ctx.socket(libc::AF_INET, libc::SOCK_RAW, 1),
            Err(libc::EACCES)
        );
        assert_eq!(
            ctx.bind(u, &SockAddr::Other(libc::AF_PACKET, vec![0; 10])),
            Err(libc::EACCES)
        );
    }

    #[test]
    fn name_lookup_needs_a_grant_but_numeric_hosts_do_not() {
        let mut ctx = NativesockCtx::builder().build();
        let res = ctx
            .getaddrinfo(
                Some("127.0.0.1"),
                Some("80"),
                libc::AF_INET,
                libc::SOCK_STREAM,
                0,
                0,
            )
            .unwrap();
        assert_eq!(res.len(), 1);
        assert_eq!(res[0].address, loopback(80));
        assert_eq!(res[0].socket_type, libc::SOCK_STREAM);
        let err = ctx
            .getaddrinfo(Some("localhost"), None, 0, libc::SOCK_STREAM, 0, 0)
            .unwrap_err();
        assert_eq!(err.code, libc::EAI_SYSTEM);
        assert_eq!(err.errno, Some(libc::EACCES));
        assert_eq!(err.message, "Permission denied");
        // A NULL host needs no lookup.
        let res = ctx
            .getaddrinfo(
                None,
                Some("0"),
                libc::AF_INET,
                libc::SOCK_DGRAM,
                0,
                libc::AI_PASSIVE,
            )
            .unwrap();
        assert_eq!(
            res[0].address,
            SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        );
        // Other errors come through unchanged.
        let err = ctx
            .getaddrinfo(Some("127.0.0.1"), Some("80"), libc::AF_INET, 12345, 0, 0)
            .unwrap_err();
        assert_eq!(err.code, libc::EAI_SOCKTYPE);
        assert_eq!(err.message, "ai_socktype not supported");
        let err = ctx.getnameinfo(&loopback(80), 0).unwrap_err();
        assert_eq!(err.errno, Some(libc::EACCES));
        let (host, serv) = ctx
            .getnameinfo(&loopback(80), libc::NI_NUMERICHOST | libc::NI_NUMERICSERV)
            .unwrap();
        assert_eq!((host.as_str(), serv.as_str()), ("127.0.0.1", "80"));

        let mut ctx = NativesockCtx::builder().allow_name_lookup(true).build();
        let (host, _) = ctx
            .getnameinfo(&loopback(80), libc::NI_NUMERICHOST)
            .unwrap();
        assert_eq!(host, "127.0.0.1");
        let res = ctx.getaddrinfo(Some("::1"), None, libc::AF_INET6, libc::SOCK_STREAM, 0, 0);
        assert_eq!(res.unwrap()[0].address, loopback6(0));
    }

    #[test]
    fn fault_injector_fails_the_named_call_without_making_it() {
        let mut ctx = NativesockCtx::builder()
            .allow_connect(rule("127.0.0.1"))
            .allow_bind(rule("127.0.0.1"))
            .fault_injector(|call| match call {
                Call::Connect | Call::Poll => Some(libc::EINTR),
                Call::Getaddrinfo => Some(libc::EAI_AGAIN),
                _ => None,
            })
            .build();
        let (l, port) = listener(&mut ctx);
        let c = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        assert_eq!(ctx.connect(c, &loopback(port)), Err(libc::EINTR));
        assert_eq!(ctx.poll(l, libc::POLLIN, -1), Err(libc::EINTR));
        // The connect never happened: nothing to accept.
        ctx.set_nonblocking(l, true).unwrap();
        assert_eq!(ctx.accept(l, 0).map(|_| ()), Err(libc::EAGAIN));
        let err = ctx.getaddrinfo(None, Some("80"), 0, 0, 0, 0).unwrap_err();
        assert_eq!((err.code, err.errno), (libc::EAI_AGAIN, None));
        // Ownership and policy come first.
        assert_eq!(ctx.connect(0, &loopback(port)), Err(libc::EBADF));
        assert_eq!(ctx.connect(c, &loopback6(port)), Err(libc::EACCES));
    }

    #[test]
    fn poll_waits_at_most_its_timeout() {
        let mut ctx = loopback_ctx();
        let (_c, a) = tcp_pair(&mut ctx);
        let start = Instant::now();
        assert_eq!(ctx.poll(a, libc::POLLIN, 50), Ok(0));
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(45) && waited < Duration::from_secs(5));
        assert_eq!(
            ctx.poll(a, libc::POLLOUT, 0).map(|r| r & libc::POLLOUT),
            Ok(libc::POLLOUT)
        );
    }

    #[test]
    fn poll_fds_reports_each_fd_and_marks_foreign_ones_invalid() {
        let mut ctx = loopback_ctx();
        let (c, a) = tcp_pair(&mut ctx);
        // Nothing to read: the whole timeout passes, every revents is 0.
        let start = Instant::now();
        assert_eq!(
            ctx.poll_fds(&[(a, libc::POLLIN), (c, libc::POLLIN)], 50),
            Ok(vec![0, 0])
        );
        assert!(start.elapsed() >= Duration::from_millis(45));
        ctx.send(c, b"x", 0).unwrap();
        let got = ctx
            .poll_fds(
                &[(a, libc::POLLIN), (-1, libc::POLLIN), (c, libc::POLLOUT)],
                5000,
            )
            .unwrap();
        assert_eq!(got, [libc::POLLIN, 0, libc::POLLOUT]);
        // An fd open in this process but not the store's is POLLNVAL, and
        // it does not make the call wait.
        let foreign = std::fs::File::open("/dev/null").unwrap();
        let start = Instant::now();
        let got = ctx
            .poll_fds(
                &[(foreign.as_raw_fd(), libc::POLLIN), (c, libc::POLLIN)],
                10_000,
            )
            .unwrap();
        assert_eq!(got, [libc::POLLNVAL, 0]);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(ctx.poll_fds(&[], 0), Ok(vec![]));
    }

    #[test]
    fn poll_fds_waits_at_most_the_blocking_cap() {
        let mut ctx = NativesockCtx::builder()
            .allow_connect(rule("127.0.0.0/8"))
            .allow_bind(rule("127.0.0.0/8"))
            .max_blocking_time(Some(Duration::from_millis(50)))
            .build();
        let (_c, a) = tcp_pair(&mut ctx);
        assert_eq!(ctx.poll_fds(&[(a, libc::POLLIN)], -1), Err(libc::ETIMEDOUT));
        // Under the cap, a timeout is a timeout.
        assert_eq!(ctx.poll_fds(&[(a, libc::POLLIN)], 10), Ok(vec![0]));
    }

    #[test]
    fn poll_returns_eintr_when_a_signal_arrives() {
        use std::sync::atomic::AtomicBool;
        extern "C" fn on_signal(_: libc::c_int) {}
        // SIGUSR2 with a handler and no SA_RESTART, as the CLI installs SIGINT.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            assert_eq!(libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut()), 0);
        }
        let mut ctx = loopback_ctx();
        let (_c, a) = tcp_pair(&mut ctx);
        let me = unsafe { libc::pthread_self() };
        let done = Arc::new(AtomicBool::new(false));
        let done2 = done.clone();
        let kicker = std::thread::spawn(move || {
            // Keep signalling until the poll has returned (bounded).
            for _ in 0..200 {
                if done2.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
                unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
            }
        });
        let res = ctx.poll(a, libc::POLLIN, 10_000);
        done.store(true, Ordering::SeqCst);
        kicker.join().unwrap();
        assert_eq!(res, Err(libc::EINTR));
    }

    /// The guest asks once whether to build audit events at all.
    #[test]
    fn audit_hooked_says_whether_a_hook_is_installed() {
        assert!(!NativesockCtx::builder().build().audit_hooked());
        assert!(
            NativesockCtx::builder()
                .audit_hook(|_| Ok(()))
                .build()
                .audit_hooked()
        );
    }

    #[test]
    fn hooks_see_events_and_the_first_denial_wins() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s1, s2) = (seen.clone(), seen.clone());
        let mut ctx = NativesockCtx::builder()
            .audit_hook(move |e| {
                s1.lock().unwrap().push(format!("1:{}", e.name));
                Ok(())
            })
            .audit_hook(|e| match e.name.as_str() {
                "socket.connect" => Err(Raised::new("PermissionError", "no connect")),
                _ => Ok(()),
            })
            .audit_hook(move |e| {
                s2.lock().unwrap().push(format!("3:{}", e.name));
                Err(Raised::new("RuntimeError", "third"))
            })
            .signal_check(|| Err(Raised::keyboard_interrupt()))
            .build();
        let event = |name: &str| AuditEvent {
            name: name.into(),
            args: Vec::new(),
        };
        assert_eq!(
            ctx.audit(&event("socket.connect")),
            Err(Raised::new("PermissionError", "no connect"))
        );
        assert_eq!(
            ctx.audit(&event("socket.bind")),
            Err(Raised::new("RuntimeError", "third"))
        );
        assert_eq!(
            *seen.lock().unwrap(),
            ["1:socket.connect", "1:socket.bind", "3:socket.bind"]
        );
        assert_eq!(ctx.check_signals(), Err(Raised::keyboard_interrupt()));

        let mut plain = NativesockCtx::builder().build();
        assert_eq!(plain.audit(&event("socket.connect")), Ok(()));
        assert_eq!(plain.check_signals(), Ok(()));
    }

    #[test]
    fn sockopts_use_any_level_and_length() {
        let mut ctx = loopback_ctx();
        let fd = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        ctx.setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &1i32.to_ne_bytes(),
        )
        .unwrap();
        let v = ctx
            .getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 4)
            .unwrap();
        assert_eq!(i32::from_ne_bytes(v.try_into().unwrap()), 1);
        let v = ctx
            .getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, 4)
            .unwrap();
        assert_eq!(i32::from_ne_bytes(v.try_into().unwrap()), libc::SOCK_STREAM);
        // A larger buffer than the option: only what the kernel wrote.
        let v = ctx
            .getsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, 64)
            .unwrap();
        assert_eq!(v.len(), std::mem::size_of::<libc::linger>());
        // A huge length is capped, not allocated.
        let v = ctx
            .getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, u32::MAX)
            .unwrap();
        assert!(!v.is_empty() && v.len() <= MAX_SOCKOPT_LEN);
        // An option no kernel has: the kernel's answer, without asking it.
        assert_eq!(
            ctx.setsockopt(fd, libc::SOL_SOCKET, 12345, &[0; 4]),
            Err(libc::ENOPROTOOPT)
        );
        assert_eq!(
            ctx.getsockopt(fd, libc::SOL_SOCKET, 12345, 4),
            Err(libc::ENOPROTOOPT)
        );
        assert_eq!(
            ctx.setsockopt_null(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 4),
            Err(libc::EFAULT)
        );
    }

    #[test]
    fn socketpair_creates_two_owned_fds() {
        let mut ctx = NativesockCtx::builder().build();
        let (a, b) = ctx.socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        assert!(ctx.owns_fd(a) && ctx.owns_fd(b));
        ctx.send(a, b"x", 0).unwrap();
        assert_eq!(ctx.recv(b, 10, 0).unwrap(), b"x");
        assert_eq!(
            ctx.socketpair(libc::AF_INET, libc::SOCK_STREAM, 0),
            Err(libc::EOPNOTSUPP)
        );
    }

    #[test]
    fn a_number_reused_behind_the_stores_back_is_not_double_closed() {
        use std::os::fd::FromRawFd;
        let mut ctx = NativesockCtx::builder().build();
        let n = ctx.socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        // Someone replaces fd `n` under the store (dup2 closes the old one
        // atomically), and the number comes back to the store as a new fd.
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(unsafe { libc::dup2(udp.as_raw_fd(), n) }, n);
        // SAFETY: `n` is the dup2'd copy, which nobody else owns.
        ctx.grant_fd(unsafe { OwnedFd::from_raw_fd(n) });
        // The stale entry was not closed: `n` is still the UDP socket.
        assert!(matches!(ctx.getsockname(n), Ok(SockAddr::Inet(_))));
        ctx.close(n).unwrap();
    }
}
