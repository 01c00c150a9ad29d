//! The socket object: `socket.socket` as `Lib/socket.py` wraps
//! `_socket.socket` (`Modules/socketmodule.c`), CPython 3.11 on Linux.
//!
//! The state is CPython's: `sock_fd` (-1 once closed or detached),
//! `sock_family`, `sock_type` (masked), `sock_proto`, `sock_timeout` in ns
//! (negative for `None`) and `socket.py`'s `_closed`. A closed socket is
//! nothing more than fd -1: every method still makes its syscall on -1 and
//! reports the kernel's `EBADF` (as 3.11's `sock_*` methods, which never
//! test for a closed socket in `Modules/socketmodule.c`), which keeps the documented
//! quirks (`connect_ex` returns 9, `recv(0)` returns `b''`, `settimeout`
//! stores the value and then fails) without special cases.

use std::cell::Cell;

use crate::addr;
use crate::args::{self, GetOpt, SetOpt};
use crate::audit::audit;
use crate::bindings::exports::nativesock::socket::socket::{
    Address, Ancillary, AncillaryItem, GuestSocket, Message, Received, Socket, SockoptValue, Value,
};
use crate::bindings::nativesock::socket::native::{
    self, AuditArg, AuditScalar, CmsgHeader, Sockaddr, SocketRef,
};
use crate::call::{self, Failure};
use crate::consts;
use crate::conv;
use crate::error::{self, PyResult, os_error, os_error_msg, plain, value_error};
use crate::pyrepr;
use crate::timeout;

/// Largest piece `sendall` hands the host in one `send`: the kernel takes
/// far less per call anyway, and this bounds what is copied into the host
/// per call for a huge buffer. The Python-visible behaviour is the same: a
/// partial send is followed by the signal check and the next piece.
const SENDALL_CHUNK: usize = 1 << 20;

/// A host constant that is a bit flag: 0 when the host has no such flag.
fn flag(name: &str) -> i32 {
    consts::get(name)
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(0)
}

/// Whether `family` is the host's constant `name` (false when it has none).
fn is_family(family: i32, name: &str) -> bool {
    consts::get(name) == Some(i64::from(family))
}

/// `sa_family` of an address the kernel returned.
fn sockaddr_family(sa: &Sockaddr) -> i32 {
    match sa {
        Sockaddr::Unspec => consts::get("AF_UNSPEC").map_or(0, |v| v as i32),
        Sockaddr::Inet(_) => consts::c("AF_INET"),
        Sockaddr::Inet6(_) => consts::c("AF_INET6"),
        Sockaddr::Unix(_) => consts::c("AF_UNIX"),
        Sockaddr::Other((family, _)) => *family,
    }
}

/// `getsockopt(fd, level, name)` into a zeroed C int.
fn getsockopt_int(fd: i32, level: i32, name: i32) -> Result<i32, i32> {
    native::getsockopt(fd, level, name, 4).map(|b| conv::c_int_from_ne(&b))
}

/// A kernel address as the Python value; `None` (an empty address) is
/// Python's `None`.
fn python_address(sa: &Sockaddr) -> PyResult<Address> {
    Ok(addr::makesockaddr(sa)?.unwrap_or(Address::Scalar(Value::None)))
}

/// Closes an fd the component created and could not hand out. (CPython
/// leaks it in the same situations; see `accept` and `dup`.)
/// A length inside the guest's memory, as the host's `u32`.
fn wasm_len(n: usize) -> u32 {
    // wasm32: every length of guest memory fits.
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn discard_fd(fd: i32) {
    let _ = native::close(fd);
}

/// `socket.socket`.
pub struct PySocket {
    fd: Cell<i32>,
    family: i32,
    kind: i32,
    proto: i32,
    timeout: Cell<i64>,
    /// `socket.py`'s `_closed`: set by `close()` and `detach()`, read by `repr`.
    closed: Cell<bool>,
}

impl Drop for PySocket {
    /// `sock_finalize`: an fd still open is closed, errors ignored (CPython
    /// also emits a `ResourceWarning`, which has no equivalent here).
    fn drop(&mut self) {
        let fd = self.fd.get();
        if fd != -1 {
            self.fd.set(-1);
            let _ = native::close(fd);
        }
    }
}

impl PySocket {
    /// `socket.socket(family, type, proto, fileno)`: `socket.py`'s defaults,
    /// then `sock_initobj_impl` (L5195-5390).
    pub fn new(
        family: Option<&Value>,
        kind: Option<&Value>,
        proto: Option<&Value>,
        fileno: Option<&Value>,
    ) -> PyResult<PySocket> {
        Self::build(family, kind, proto, fileno, false)
    }

    /// [`PySocket::new`] with `fileno=` an fd the component itself just
    /// obtained (`accept`, `dup`, `socketpair`): if the object cannot be
    /// built, the fd is closed. CPython leaks it when the audit hook or the
    /// validation fails (`socket.py` simply drops the int); a sandbox should
    /// not keep a connection open that nothing can reach.
    fn wrap_own_fd(family: i32, kind: i32, proto: i32, fd: i32) -> PyResult<PySocket> {
        let int = |i: i32| Value::Int(i.into());
        Self::build(
            Some(&int(family)),
            Some(&int(kind)),
            Some(&int(proto)),
            Some(&int(fd)),
            true,
        )
    }

    fn build(
        family: Option<&Value>,
        kind: Option<&Value>,
        proto: Option<&Value>,
        fileno: Option<&Value>,
        own_fd: bool,
    ) -> PyResult<PySocket> {
        // `fileno=None` is the default.
        let fileno = fileno.filter(|v| !matches!(v, Value::None));
        let before_init = || -> PyResult<(i32, i32, i32, Option<i32>)> {
            let (family, kind, proto) = args::socket_init(
                family,
                kind,
                proto,
                fileno.is_some(),
                consts::c("AF_INET"),
                consts::c("SOCK_STREAM"),
            )?;
            // `socket.__new__` is raised with the values as passed (-1 for
            // what `fileno` will provide), before the syscall or the fd
            // validation. `self` is the fresh object of `sock_new`: fd -1,
            // the other fields zeroed.
            let fresh = SocketRef {
                fd: -1,
                family: 0,
                socket_type: 0,
                proto: 0,
            };
            audit("socket.__new__", || {
                vec![
                    AuditArg::Socket(fresh),
                    AuditArg::Scalar(AuditScalar::Int(family.into())),
                    AuditArg::Scalar(AuditScalar::Int(kind.into())),
                    AuditArg::Scalar(AuditScalar::Int(proto.into())),
                ]
            })?;
            match fileno {
                Some(fileno) => {
                    let fd = args::fileno(fileno)?;
                    let (family, kind, proto) = Self::detect(fd, family, kind, proto)?;
                    Ok((family, kind, proto, Some(fd)))
                }
                None => Ok((family, kind, proto, None)),
            }
        };
        let (family, kind, proto, fd) = before_init().inspect_err(|_| {
            if let (true, Some(Ok(fd))) = (own_fd, fileno.map(conv::as_socket_t)) {
                discard_fd(fd);
            }
        })?;
        let fd = match fd {
            Some(fd) => fd,
            // CPython asks for SOCK_CLOEXEC: every socket it creates is
            // non-inheritable (`sock_initobj_impl`, `Modules/socketmodule.c`).
            None => native::socket(family, kind | flag("SOCK_CLOEXEC"), proto).map_err(os_error)?,
        };
        Self::init_sockobject(fd, family, kind, proto)
    }

    /// The `fileno=` branch of `sock_initobj_impl`: validate the fd with
    /// `getsockname()` (only `EBADF` and `ENOTSOCK` are errors; the family
    /// comes from the address when not given), then `SO_TYPE` and
    /// `SO_PROTOCOL` for what was not given. A TCP socket rewrapped without
    /// arguments therefore reports proto 6 (`sock_initobj_impl`,
    /// `Modules/socketmodule.c`).
    fn detect(
        fd: i32,
        mut family: i32,
        mut kind: i32,
        mut proto: i32,
    ) -> PyResult<(i32, i32, i32)> {
        match native::getsockname(fd) {
            Ok(sa) => {
                if family == -1 {
                    family = sockaddr_family(&sa);
                }
            }
            Err(e) if e == error::errno("EBADF") || e == error::errno("ENOTSOCK") => {
                return Err(os_error(e));
            }
            Err(_) => {}
        }
        let sol_socket = consts::c("SOL_SOCKET");
        if kind == -1 {
            kind = getsockopt_int(fd, sol_socket, consts::c("SO_TYPE")).map_err(os_error)?;
        }
        if proto == -1 {
            proto = match consts::get("SO_PROTOCOL") {
                Some(so_protocol) => {
                    getsockopt_int(fd, sol_socket, so_protocol as i32).map_err(os_error)?
                }
                // `#else proto = 0;`
                None => 0,
            };
        }
        Ok((family, kind, proto))
    }

    /// `init_sockobject` (L982): the masked type, and the timeout: 0 for a
    /// `SOCK_NONBLOCK` type (the fd already is), otherwise the module default,
    /// making the fd non-blocking when that default is not `None`. If that
    /// fails, `sock_initobj_impl` closes the fd.
    fn init_sockobject(fd: i32, family: i32, kind: i32, proto: i32) -> PyResult<PySocket> {
        let nonblock = flag("SOCK_NONBLOCK");
        let (timeout, set_nonblocking) =
            args::initial_timeout(kind, nonblock, timeout::default_timeout());
        if set_nonblocking && let Err(e) = native::set_nonblocking(fd, true) {
            discard_fd(fd);
            return Err(os_error(e));
        }
        Ok(PySocket {
            fd: Cell::new(fd),
            family,
            kind: args::mask_type(kind, nonblock, flag("SOCK_CLOEXEC")),
            proto,
            timeout: Cell::new(timeout),
            closed: Cell::new(false),
        })
    }

    /// `self`, as an audit hook sees it.
    fn sock_ref(&self) -> SocketRef {
        SocketRef {
            fd: self.fd.get(),
            family: self.family,
            socket_type: self.kind,
            proto: self.proto,
        }
    }

    /// `PySys_Audit(event, "OO", s, addro)`.
    fn audit_address(&self, event: &str, address: &Address) -> PyResult<()> {
        audit(event, || {
            vec![AuditArg::Socket(self.sock_ref()), addr::audit_arg(address)]
        })
    }

    /// `getsockaddrlen()` (L1992): the families CPython 3.11 on Linux can
    /// size an address buffer for. Any other family makes `getsockname`,
    /// `getpeername`, `accept` and `recvfrom` fail before their syscall.
    /// (`AF_BLUETOOTH` is missing on purpose: the reference CPython is built
    /// without Bluetooth support, so it is a bad family there too.)
    fn getsockaddrlen(&self) -> PyResult<()> {
        const KNOWN: [&str; 11] = [
            "AF_UNIX",
            "AF_NETLINK",
            "AF_QIPCRTR",
            "AF_VSOCK",
            "AF_RDS",
            "AF_INET",
            "AF_INET6",
            "AF_PACKET",
            "AF_TIPC",
            "AF_CAN",
            "AF_ALG",
        ];
        // The host's values, looked up once per store: this check runs on
        // every `getsockname`, and a lookup per name was a tenth of it.
        static KNOWN_VALUES: std::sync::OnceLock<Vec<i64>> = std::sync::OnceLock::new();
        let known =
            KNOWN_VALUES.get_or_init(|| KNOWN.iter().filter_map(|n| consts::get(n)).collect());
        if known.contains(&i64::from(self.family)) {
            Ok(())
        } else {
            Err(os_error_msg("getsockaddrlen: bad family"))
        }
    }

    /// `sock_call(s, writing, func)`: [`call::sock_call_ex`] with the
    /// socket's own timeout.
    fn sock_call<T>(
        &self,
        writing: bool,
        func: impl FnMut(i32) -> Result<T, i32>,
    ) -> Result<T, Failure> {
        let t = self.timeout.get();
        call::sock_call_ex(self.fd.get(), t, writing, false, t, func)
    }

    /// `settimeout` after parsing: the value is stored *before* `FIONBIO`,
    /// so a failing call still changes `gettimeout()` (`sock_settimeout`,
    /// `Modules/socketmodule.c`).
    fn set_timeout_ns(&self, ns: i64) -> PyResult<()> {
        self.timeout.set(ns);
        native::set_nonblocking(self.fd.get(), ns >= 0).map_err(os_error)
    }

    /// `internal_connect` (L3245-3308). `Ok` is connected; `Err` says why
    /// not, for `connect` to raise and `connect_ex` to return.
    fn internal_connect(&self, sa: &Sockaddr) -> Result<(), Failure> {
        let fd = self.fd.get();
        let err = match native::connect(fd, sa) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let timeout = self.timeout.get();
        let wait_connect = if err == error::errno("EINTR") {
            // The handlers run first; if one raises, that is the result.
            call::check_signals()?;
            // Issue #23618: the connection carries on asynchronously; wait
            // for it unless the socket is non-blocking (then InterruptedError).
            timeout != 0
        } else {
            // Only EINPROGRESS on a socket with a timeout is waited for:
            // EAGAIN (full AF_UNIX backlog), EALREADY, ECONNREFUSED... are
            // reported at once, even with a timeout (`internal_connect`,
            // `Modules/socketmodule.c`).
            timeout > 0 && err == error::errno("EINPROGRESS")
        };
        if !wait_connect {
            return Err(Failure::Errno(err));
        }
        call::sock_call_ex(fd, timeout, true, true, timeout, sock_connect_impl)
    }

    /// The common part of `connect` and `connect_ex`: parse (even on a
    /// closed socket), audit `socket.connect` with the original address, connect.
    fn connect_common(&self, address: &Address, caller: &str) -> PyResult<Result<(), Failure>> {
        let sa = addr::getsockaddrarg(self.family, address, caller)?;
        self.audit_address("socket.connect", address)?;
        Ok(self.internal_connect(&sa))
    }

    /// `sock_recv_guts`: `len == 0` returns at once, without a syscall
    /// (even on a closed socket). The count is what the syscall returned:
    /// with `MSG_TRUNC` on a datagram socket, the datagram's real length,
    /// which only `recvmsg` reports, so that flag goes through it.
    fn recv_guts(&self, len: usize, flags: i32) -> PyResult<(Vec<u8>, u64)> {
        if len == 0 {
            return Ok((Vec::new(), 0));
        }
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        if flags & flag("MSG_TRUNC") != 0 {
            let msg = self.sock_call(false, |fd| native::recvmsg(fd, len, 0, flags))?;
            return Ok((msg.data, msg.length.into()));
        }
        let data = self.sock_call(false, |fd| native::recv(fd, len, flags))?;
        let n = data.len() as u64;
        Ok((data, n))
    }

    /// `sock_recvfrom_guts`: the family check, then the call (even for
    /// `len == 0`); the count as in [`PySocket::recv_guts`].
    fn recvfrom_guts(&self, len: usize, flags: i32) -> PyResult<(Vec<u8>, u64, Option<Address>)> {
        self.getsockaddrlen()?;
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let (data, n, sa) = if flags & flag("MSG_TRUNC") != 0 {
            let msg = self.sock_call(false, |fd| native::recvmsg(fd, len, 0, flags))?;
            (msg.data, u64::from(msg.length), msg.address)
        } else {
            let (data, sa) = self.sock_call(false, |fd| native::recvfrom(fd, len, flags))?;
            let n = data.len() as u64;
            (data, n, sa)
        };
        Ok((data, n, addr::makesockaddr(&sa)?))
    }

    /// `sock_recvmsg_guts` (L4003): the family check, the ancillary
    /// buffer check, the call, then the ancillary items and the address.
    fn recvmsg_guts(&self, len: u64, ancbufsize: i64, flags: i32) -> PyResult<Message> {
        self.getsockaddrlen()?;
        // `SOCKLEN_T_LIMIT` is INT_MAX on Linux.
        if !(0..=i64::from(i32::MAX)).contains(&ancbufsize) {
            return Err(value_error("invalid ancillary data buffer length"));
        }
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let anc = ancbufsize as u32;
        let msg = self.sock_call(false, |fd| native::recvmsg(fd, len, anc, flags))?;
        Ok(Message {
            data: msg.data,
            nbytes: msg.length.into(),
            ancdata: msg
                .ancillary
                .into_iter()
                .map(|c| Ancillary {
                    level: c.level.into(),
                    kind: c.kind.into(),
                    data: c.data,
                })
                .collect(),
            msg_flags: msg.flags.into(),
            address: addr::makesockaddr(&msg.address)?,
        })
    }

    /// `repr` needs the addresses without raising.
    fn repr_info(&self) -> pyrepr::ReprInfo {
        let closed = self.closed.get();
        let (laddr, raddr) = if closed {
            (None, None)
        } else {
            (
                GuestSocket::getsockname(self).ok(),
                GuestSocket::getpeername(self).ok(),
            )
        };
        pyrepr::ReprInfo {
            closed,
            fd: self.fd.get(),
            family: self.family,
            kind: self.kind,
            proto: self.proto,
            laddr,
            raddr,
        }
    }
}

/// `sock_connect_impl` (L3224): finishes a pending connect by reading (and
/// so clearing) `SO_ERROR`. 0 or `EISCONN` is connected; another value is
/// the connect's errno; a failing `getsockopt` reports its own errno.
fn sock_connect_impl(fd: i32) -> Result<(), i32> {
    let err = getsockopt_int(fd, consts::c("SOL_SOCKET"), consts::c("SO_ERROR"))?;
    if err == 0 || err == error::errno("EISCONN") {
        Ok(())
    } else {
        Err(err)
    }
}

impl GuestSocket for PySocket {
    fn create(
        family: Option<Value>,
        socket_type: Option<Value>,
        proto: Option<Value>,
        fileno: Option<Value>,
    ) -> PyResult<Socket> {
        PySocket::new(
            family.as_ref(),
            socket_type.as_ref(),
            proto.as_ref(),
            fileno.as_ref(),
        )
        .map(Socket::new)
    }

    fn family(&self) -> i64 {
        self.family.into()
    }

    fn type_(&self) -> i64 {
        self.kind.into()
    }

    fn proto(&self) -> i64 {
        self.proto.into()
    }

    fn timeout(&self) -> Option<f64> {
        timeout::to_seconds(self.timeout.get())
    }

    fn repr(&self) -> String {
        pyrepr::socket_repr(&self.repr_info())
    }

    fn fileno(&self) -> i64 {
        self.fd.get().into()
    }

    /// `socket.close()` then `sock_close` (L3177): no retry on EINTR,
    /// ECONNRESET ignored (bpo-30319), a second close does nothing.
    fn close(&self) -> PyResult<()> {
        self.closed.set(true);
        let fd = self.fd.get();
        if fd != -1 {
            self.fd.set(-1);
            if let Err(e) = native::close(fd)
                && e != error::errno("ECONNRESET")
            {
                return Err(os_error(e));
            }
        }
        Ok(())
    }

    /// `socket.detach()`: `_closed = True`, then the fd (-1 if already closed).
    fn detach(&self) -> i64 {
        self.closed.set(true);
        self.fd.replace(-1).into()
    }

    /// `socket.dup()` (`Lib/socket.py` L276): `F_DUPFD_CLOEXEC`, then a new
    /// object built like `socket(self.family, self.type, self.proto,
    /// fileno=fd)` (its audit event, `getsockname` check and default
    /// timeout), then `settimeout(self.gettimeout())`.
    fn dup(&self) -> PyResult<Socket> {
        let fd = native::dup(self.fd.get()).map_err(os_error)?;
        let sock = PySocket::wrap_own_fd(self.family, self.kind, self.proto, fd)?;
        // The timeout goes through a float and back, as in Python.
        let seconds = match timeout::to_seconds(self.timeout.get()) {
            Some(s) => Value::Float(s),
            None => Value::None,
        };
        // On failure `sock` is dropped, which closes the new fd (CPython's
        // finaliser does the same).
        sock.set_timeout_ns(timeout::parse(&seconds)?)?;
        Ok(Socket::new(sock))
    }

    /// `os.get_inheritable(self.fileno())`: `FD_CLOEXEC` is read each time.
    fn get_inheritable(&self) -> PyResult<bool> {
        native::get_cloexec(self.fd.get())
            .map(|cloexec| !cloexec)
            .map_err(os_error)
    }

    fn set_inheritable(&self, inheritable: bool) -> PyResult<()> {
        native::set_cloexec(self.fd.get(), !inheritable).map_err(os_error)
    }

    fn settimeout(&self, value: Value) -> PyResult<()> {
        let ns = timeout::parse(&value)?;
        self.set_timeout_ns(ns)
    }

    fn gettimeout(&self) -> Option<f64> {
        timeout::to_seconds(self.timeout.get())
    }

    fn setblocking(&self, flag: Value) -> PyResult<()> {
        let ns = args::setblocking(&flag)?;
        self.set_timeout_ns(ns)
    }

    /// `sock_timeout != 0`.
    fn getblocking(&self) -> bool {
        self.timeout.get() != 0
    }

    fn connect(&self, address: Address) -> PyResult<()> {
        self.connect_common(&address, "connect")?
            .map_err(Failure::into_error)
    }

    /// `sock_connect_ex`: errnos are returned, exceptions (address, audit,
    /// signal handler) raised; a timeout is `SOCK_TIMEOUT_ERR` (11).
    fn connect_ex(&self, address: Address) -> PyResult<i32> {
        match self.connect_common(&address, "connect_ex")? {
            Ok(()) => Ok(0),
            Err(Failure::Errno(e)) => Ok(e),
            Err(Failure::TimedOut) => Ok(call::sock_timeout_err()),
            Err(Failure::Raised(e)) => Err(e),
            // `poll()` failing with something other than EINTR: 3.11 has
            // set an OSError *and* returns the errno, which the interpreter
            // turns into a SystemError (`sock_call_ex`, `Modules/socketmodule.c`;
            // unreachable in practice).
            Err(Failure::PollFailed(_)) => Err(plain(
                "SystemError",
                "<method 'connect_ex' of '_socket.socket' objects> returned a result with an exception set",
            )),
        }
    }

    fn bind(&self, address: Address) -> PyResult<()> {
        let sa = addr::getsockaddrarg(self.family, &address, "bind")?;
        self.audit_address("socket.bind", &address)?;
        native::bind(self.fd.get(), &sa).map_err(os_error)
    }

    fn listen(&self, backlog: Option<Value>) -> PyResult<()> {
        let backlog = backlog.as_ref();
        let backlog = args::listen_backlog(backlog, consts::get("SOMAXCONN"))?;
        native::listen(self.fd.get(), backlog).map_err(os_error)
    }

    /// `socket.accept()`: `_accept()` (`accept4(SOCK_CLOEXEC)` through
    /// `sock_call`), then `socket(self.family, self.type, self.proto,
    /// fileno=fd)`, then Issue #7995: with no default timeout, a listener
    /// with a (non-zero) timeout gives a blocking socket.
    fn accept(&self) -> PyResult<(Socket, Address)> {
        self.getsockaddrlen()?;
        let cloexec = flag("SOCK_CLOEXEC");
        let (fd, sa) = self.sock_call(false, |fd| native::accept(fd, cloexec))?;
        // CPython leaks the new fd when anything below fails (the int is
        // simply dropped); the component closes it instead.
        let address = python_address(&sa).inspect_err(|_| discard_fd(fd))?;
        let sock = PySocket::wrap_own_fd(self.family, self.kind, self.proto, fd)?;
        if timeout::default_timeout() < 0 && self.timeout.get() > 0 {
            // `sock.setblocking(True)`; on failure `sock` is dropped and closed.
            sock.set_timeout_ns(timeout::NONE)?;
        }
        Ok((Socket::new(sock), address))
    }

    fn getsockname(&self) -> PyResult<Address> {
        self.getsockaddrlen()?;
        let sa = native::getsockname(self.fd.get()).map_err(os_error)?;
        python_address(&sa)
    }

    fn getpeername(&self) -> PyResult<Address> {
        self.getsockaddrlen()?;
        let sa = native::getpeername(self.fd.get()).map_err(os_error)?;
        python_address(&sa)
    }

    fn send(&self, data: Vec<u8>, flags: Option<Value>) -> PyResult<u64> {
        let flags = conv::arg_i_or(flags.as_ref(), 0)?;
        let n = self.sock_call(true, |fd| native::send(fd, &data, flags))?;
        Ok(n.into())
    }

    /// `sock_sendall` (L4223): one deadline for the whole call, checked
    /// before every chunk (`TimeoutError` once nothing is left), and the
    /// signal handlers run after every partial send ("send() can return a
    /// successful partial write when it is interrupted"). At least one
    /// `send` is made, even for empty data.
    fn sendall(&self, data: Vec<u8>, flags: Option<Value>) -> PyResult<()> {
        let flags = conv::arg_i_or(flags.as_ref(), 0)?;
        let sock_timeout = self.timeout.get();
        let has_timeout = sock_timeout > 0;
        let mut timeout = sock_timeout;
        let mut deadline: Option<i64> = None;
        let now = || i64::try_from(native::monotonic_ns()).unwrap_or(i64::MAX);
        let mut rest: &[u8] = &data;
        loop {
            if has_timeout {
                match deadline {
                    Some(d) => timeout = timeout::remaining(d, now()),
                    None => deadline = Some(timeout::deadline(now(), timeout)),
                }
                if timeout <= 0 {
                    return Err(error::timed_out());
                }
            }
            let chunk = &rest[..rest.len().min(SENDALL_CHUNK)];
            let n = call::sock_call_ex(self.fd.get(), sock_timeout, true, false, timeout, |fd| {
                native::send(fd, chunk, flags)
            })?;
            let n = (n as usize).min(rest.len());
            rest = &rest[n..];
            call::check_signals()?;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// `sock_sendto`: flags, then the address (`sendto(): port must be
    /// 0-65535.`), then the `socket.sendto` audit event, then the call.
    fn sendto(&self, data: Vec<u8>, flags: Option<Value>, address: Address) -> PyResult<u64> {
        let flags = conv::arg_i_or(flags.as_ref(), 0)?;
        let sa = addr::getsockaddrarg(self.family, &address, "sendto")?;
        self.audit_address("socket.sendto", &address)?;
        let n = self.sock_call(true, |fd| native::sendto(fd, &data, flags, &sa))?;
        Ok(n.into())
    }

    /// `sock_recv`: `recv(0)` returns `b''` before any syscall, even on a
    /// closed socket (`sock_recv_guts` L3525).
    fn recv(&self, bufsize: Value, flags: Option<Value>) -> PyResult<Vec<u8>> {
        let (len, flags) = args::recv(&bufsize, flags.as_ref(), "recv")?;
        let (mut data, n) = self.recv_guts(len, flags)?;
        // `_PyBytes_Resize(&buf, outlen)`: with `MSG_TRUNC` the bytes object
        // grows to the datagram's real length; CPython leaves the tail
        // uninitialised, here it is zeros.
        data.resize(usize::try_from(n).unwrap_or(data.len()).max(data.len()), 0);
        Ok(data)
    }

    /// `sock_recvfrom`: no `len == 0` shortcut here, and the family must be
    /// one `getsockaddrlen` knows.
    fn recvfrom(
        &self,
        bufsize: Value,
        flags: Option<Value>,
    ) -> PyResult<(Vec<u8>, Option<Address>)> {
        let (len, flags) = args::recv(&bufsize, flags.as_ref(), "recvfrom")?;
        let (mut data, n, address) = self.recvfrom_guts(len, flags)?;
        // As in `recv`: the bytes object has the length the call returned.
        data.resize(usize::try_from(n).unwrap_or(data.len()).max(data.len()), 0);
        Ok((data, address))
    }

    /// `sock_recv_into` (`"w*|ni:recv_into"`): `nbytes` 0 means the whole
    /// buffer. A `MSG_TRUNC` count larger than the buffer is returned as
    /// CPython returns it; only the bytes that fit are copied.
    fn recv_into(
        &self,
        buffer_length: u64,
        nbytes: Option<Value>,
        flags: Option<Value>,
    ) -> PyResult<Received> {
        let flags = conv::arg_i_or(flags.as_ref(), 0)?;
        let buflen = i64::try_from(buffer_length).unwrap_or(i64::MAX);
        let mut recvlen = nbytes.as_ref().map_or(Ok(0), conv::arg_n)?;
        if recvlen < 0 {
            return Err(value_error("negative buffersize in recv_into"));
        }
        if recvlen == 0 {
            recvlen = buflen;
        }
        if buflen < recvlen {
            return Err(value_error("buffer too small for requested bytes"));
        }
        let (mut data, nbytes) = self.recv_guts(recvlen as usize, flags)?;
        data.truncate(recvlen as usize);
        Ok(Received { data, nbytes })
    }

    /// `sock_recvfrom_into` (`"w*|ni:recvfrom_into"`).
    fn recvfrom_into(
        &self,
        buffer_length: u64,
        nbytes: Option<Value>,
        flags: Option<Value>,
    ) -> PyResult<(Received, Option<Address>)> {
        let flags = conv::arg_i_or(flags.as_ref(), 0)?;
        let buflen = i64::try_from(buffer_length).unwrap_or(i64::MAX);
        let mut recvlen = nbytes.as_ref().map_or(Ok(0), conv::arg_n)?;
        if recvlen < 0 {
            return Err(value_error("negative buffersize in recvfrom_into"));
        }
        if recvlen == 0 {
            recvlen = buflen;
        } else if recvlen > buflen {
            return Err(value_error(
                "nbytes is greater than the length of the buffer",
            ));
        }
        let (mut data, nbytes, address) = self.recvfrom_guts(recvlen as usize, flags)?;
        data.truncate(recvlen as usize);
        Ok((Received { data, nbytes }, address))
    }

    /// `sock_sendmsg` (`"O|OiO:sendmsg"`): flags, then the address (unless
    /// `None`), then the `socket.sendmsg` audit event (with the address
    /// or `None`), then the ancillary items (`"(iiy*)"`), then the call.
    fn sendmsg(
        &self,
        buffers: Vec<Vec<u8>>,
        ancdata: Vec<AncillaryItem>,
        flags: Option<Value>,
        address: Option<Address>,
    ) -> PyResult<u64> {
        let flags = conv::arg_i_or(flags.as_ref(), 0)?;
        let address = address.filter(|a| !matches!(a, Address::Scalar(Value::None)));
        let sa = match &address {
            Some(a) => {
                let sa = addr::getsockaddrarg(self.family, a, "sendmsg")?;
                self.audit_address("socket.sendmsg", a)?;
                Some(sa)
            }
            None => {
                audit("socket.sendmsg", || {
                    vec![
                        AuditArg::Socket(self.sock_ref()),
                        AuditArg::Scalar(AuditScalar::None),
                    ]
                })?;
                None
            }
        };
        let headers = ancdata
            .iter()
            .map(|a| {
                Ok(CmsgHeader {
                    level: conv::arg_i(&a.level)?,
                    kind: conv::arg_i(&a.kind)?,
                    length: wasm_len(a.data.len()),
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        // The host takes flat lists (see `native.wit`). One buffer, the
        // common case, is already flat: joining it would copy every byte.
        let lengths: Vec<u32> = buffers.iter().map(|b| wasm_len(b.len())).collect();
        let joined;
        let data: &[u8] = match buffers.as_slice() {
            [one] => one,
            _ => {
                joined = buffers.concat();
                &joined
            }
        };
        let control: Vec<u8> = ancdata.into_iter().flat_map(|a| a.data).collect();
        let n = self.sock_call(true, |fd| {
            native::sendmsg(fd, data, &lengths, &headers, &control, flags, sa.as_ref())
        })?;
        Ok(n.into())
    }

    /// `sock_recvmsg` (`"n|ni:recvmsg"`). With `MSG_TRUNC`, `data` is cut
    /// to `bufsize` (CPython only ever shrinks it).
    fn recvmsg(
        &self,
        bufsize: Value,
        ancbufsize: Option<Value>,
        flags: Option<Value>,
    ) -> PyResult<Message> {
        let bufsize = conv::arg_n(&bufsize)?;
        let ancbufsize = ancbufsize.as_ref().map_or(Ok(0), conv::arg_n)?;
        let flags = conv::arg_i_or(flags.as_ref(), 0)?;
        if bufsize < 0 {
            return Err(value_error("negative buffer size in recvmsg()"));
        }
        args::bytes_of(bufsize)?;
        let mut msg = self.recvmsg_guts(bufsize as u64, ancbufsize, flags)?;
        msg.nbytes = msg.data.len() as u64;
        Ok(msg)
    }

    /// `sock_recvmsg_into` (`"O|ni:recvmsg_into"`): one buffer of the
    /// buffers' total length; `nbytes` is what the call returned.
    fn recvmsg_into(
        &self,
        buffer_lengths: Vec<u64>,
        ancbufsize: Option<Value>,
        flags: Option<Value>,
    ) -> PyResult<Message> {
        let ancbufsize = ancbufsize.as_ref().map_or(Ok(0), conv::arg_n)?;
        let flags = conv::arg_i_or(flags.as_ref(), 0)?;
        let total = buffer_lengths
            .iter()
            .fold(0u64, |acc, &n| acc.saturating_add(n));
        self.recvmsg_guts(total, ancbufsize, flags)
    }

    /// `sock_shutdown`: `how` through `_PyLong_AsInt`.
    fn shutdown(&self, how: Value) -> PyResult<()> {
        let how = conv::as_int(&how)?;
        native::shutdown(self.fd.get(), how).map_err(os_error)
    }

    fn getsockopt(
        &self,
        level: Value,
        optname: Value,
        buflen: Option<Value>,
    ) -> PyResult<SockoptValue> {
        let vsock = is_family(self.family, "AF_VSOCK");
        let (level, optname, what) = args::getsockopt(&level, &optname, buflen.as_ref(), vsock)?;
        let fd = self.fd.get();
        match what {
            GetOpt::Int => {
                let v = getsockopt_int(fd, level, optname).map_err(os_error)?;
                Ok(SockoptValue::Int(v.into()))
            }
            GetOpt::U64 => {
                // `PyLong_FromUnsignedLong(vflag)`; values above 2**63 wrap
                // (the interface's int is s64).
                let b = native::getsockopt(fd, level, optname, 8).map_err(os_error)?;
                Ok(SockoptValue::Int(conv::u64_from_ne(&b) as i64))
            }
            GetOpt::Bytes(len) => {
                let b = native::getsockopt(fd, level, optname, len).map_err(os_error)?;
                Ok(SockoptValue::Bytes(b))
            }
        }
    }

    fn setsockopt(
        &self,
        level: Value,
        optname: Value,
        value: Value,
        optlen: Option<Value>,
    ) -> PyResult<()> {
        let vsock = is_family(self.family, "AF_VSOCK");
        let (level, optname, what) =
            args::setsockopt(&level, &optname, value, optlen.as_ref(), vsock)?;
        let fd = self.fd.get();
        let res = match what {
            SetOpt::Int(v) => native::setsockopt(fd, level, optname, &v.to_le_bytes()),
            SetOpt::U64(v) => native::setsockopt(fd, level, optname, &v.to_le_bytes()),
            SetOpt::Bytes(b) => native::setsockopt(fd, level, optname, &b),
            SetOpt::Null(len) => native::setsockopt_null(fd, level, optname, len),
        };
        res.map_err(os_error)
    }
}

/// `socket.socketpair(family=None, type=SOCK_STREAM, proto=0)`
/// (`Lib/socket.py`): `_socket.socketpair` (`"|iii"`, both fds
/// close-on-exec, each wrapped by `init_sockobject`), then each end
/// detached and rewrapped as `socket(family, type, proto, fileno)`, which
/// raises `socket.__new__` once per end.
pub fn socketpair(
    family: Option<&Value>,
    kind: Option<&Value>,
    proto: Option<&Value>,
) -> PyResult<(Socket, Socket)> {
    // `family=None` is `AF_UNIX`; the others have int defaults.
    let family = conv::arg_i_or(
        family.filter(|v| !matches!(v, Value::None)),
        consts::c("AF_UNIX"),
    )?;
    let kind = conv::arg_i_or(kind, consts::c("SOCK_STREAM"))?;
    let proto = conv::arg_i_or(proto, 0)?;
    let (a, b) =
        native::socketpair(family, kind | flag("SOCK_CLOEXEC"), proto).map_err(os_error)?;
    let wrap = |fd: i32| -> PyResult<PySocket> {
        // `new_sockobject` (the C objects `_socket.socketpair` returns;
        // closes the fd if it fails)...
        let inner = PySocket::init_sockobject(fd, family, kind, proto)?;
        // ...`a.detach()`, `socket(family, type, proto, fd)`.
        let fd = inner.fd.replace(-1);
        PySocket::wrap_own_fd(family, kind, proto, fd)
    };
    let first = wrap(a).inspect_err(|_| discard_fd(b))?;
    // On failure `first` is dropped, which closes it.
    let second = wrap(b)?;
    Ok((Socket::new(first), Socket::new(second)))
}

/// `socket.dup(fd)` (`_socket_dup`): `fd` converted like `PyLong_AsSocket_t`,
/// then `_Py_dup` (`F_DUPFD_CLOEXEC`).
pub fn dup_fd(fd: &Value) -> PyResult<i64> {
    native::dup(conv::as_socket_t(fd)?)
        .map(i64::from)
        .map_err(os_error)
}

/// `socket.close(fd)` (`_socket_close_impl`): `fd` converted like
/// `PyLong_AsSocket_t` (truncated), ECONNRESET ignored.
pub fn close_fd(fd: &Value) -> PyResult<()> {
    match native::close(conv::as_socket_t(fd)?) {
        Err(e) if e != error::errno("ECONNRESET") => Err(os_error(e)),
        _ => Ok(()),
    }
}
