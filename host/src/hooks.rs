//! What the embedder can plug into a store: audit hooks, the signal check
//! and the fault injector, and the values they see.

use std::fmt;
use std::os::fd::RawFd;
use std::sync::Arc;

use crate::sys::SockAddr;

/// A Python exception raised by a signal handler or an audit hook (mirrors
/// the WIT `raised` record).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Raised {
    /// The exception's class name, as Python spells it:
    /// `KeyboardInterrupt`, `PermissionError`...
    pub exception: String,
    /// `str()` of the exception; empty for `KeyboardInterrupt`.
    pub message: String,
}

impl Raised {
    /// An exception of class `exception` with `message`.
    pub fn new(exception: impl Into<String>, message: impl Into<String>) -> Raised {
        Raised {
            exception: exception.into(),
            message: message.into(),
        }
    }

    /// `KeyboardInterrupt()`, what Python's default `SIGINT` handler raises.
    pub fn keyboard_interrupt() -> Raised {
        Raised::new("KeyboardInterrupt", "")
    }
}

impl fmt::Display for Raised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.exception)
        } else {
            write!(f, "{}: {}", self.exception, self.message)
        }
    }
}

impl std::error::Error for Raised {}

/// A socket as audit hooks see one (mirrors the WIT `socket-ref`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketRef {
    /// Its fd, or -1 when it is closed.
    pub fd: i32,
    /// Its family (`AF_*`).
    pub family: i32,
    /// Its type (`SOCK_*`), without `SOCK_NONBLOCK` and `SOCK_CLOEXEC`.
    pub socket_type: i32,
    /// Its protocol.
    pub proto: i32,
}

/// A plain Python value inside an audit argument (mirrors the WIT `audit-scalar`).
#[derive(Clone, Debug, PartialEq)]
pub enum AuditScalar {
    /// `None`.
    None,
    /// A bool.
    Boolean(bool),
    /// An int.
    Int(i64),
    /// An int outside `i64`, in decimal, as the guest passed it (a Python
    /// program's `getaddrinfo('localhost', 2**64)` raises the audit event
    /// before the port is converted).
    BigInt(String),
    /// A float.
    Float(f64),
    /// A str.
    Str(String),
    /// A bytes object.
    Bytes(Vec<u8>),
    /// Any other object, by its type's name (`list`...).
    Object(String),
}

/// One argument of an audit event (mirrors the WIT `audit-arg`).
#[derive(Clone, Debug, PartialEq)]
pub enum AuditArg {
    /// A plain value.
    Scalar(AuditScalar),
    /// A tuple of plain values, such as an address `('localhost', 80)`.
    Tuple(Vec<AuditScalar>),
    /// A socket object.
    Socket(SocketRef),
}

/// An audit event, as CPython's `sys.audit(name, *args)` would raise it:
/// `socket.connect` with the socket and the address, `socket.__new__`...
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// The event name (`socket.connect`).
    pub name: String,
    /// Its arguments, in CPython's order.
    pub args: Vec<AuditArg>,
}

impl AuditEvent {
    /// The event as one line of JSON, for logs:
    /// `{"event":"socket.connect","args":[{"socket":{"family":2,"fd":3,"proto":0,"type":1}},["127.0.0.1",80]]}`.
    ///
    /// `None` is `null`, a tuple an array, bytes `{"bytes":"<hex>"}`, a
    /// float that JSON cannot hold (`nan`, `inf`, `-inf`) its Python repr
    /// as `{"float":"nan"}`, an int outside `i64` `{"int":"<decimal>"}`,
    /// another object `{"object":"<type name>"}`.
    pub fn to_json(&self) -> String {
        // The name first, for people reading the log.
        let name = serde_json::Value::from(self.name.as_str());
        let args: serde_json::Value = self.args.iter().map(arg_json).collect();
        format!(r#"{{"event":{name},"args":{args}}}"#)
    }
}

fn scalar_json(s: &AuditScalar) -> serde_json::Value {
    use serde_json::{Value, json};
    match s {
        AuditScalar::None => Value::Null,
        AuditScalar::Boolean(b) => json!(b),
        AuditScalar::Int(i) => json!(i),
        AuditScalar::BigInt(digits) => json!({ "int": digits }),
        AuditScalar::Object(type_name) => json!({ "object": type_name }),
        AuditScalar::Float(f) if f.is_finite() => json!(f),
        AuditScalar::Float(f) if f.is_nan() => json!({ "float": "nan" }),
        AuditScalar::Float(f) if *f > 0.0 => json!({ "float": "inf" }),
        AuditScalar::Float(_) => json!({ "float": "-inf" }),
        AuditScalar::Str(s) => json!(s),
        AuditScalar::Bytes(b) => {
            let hex: String = b.iter().map(|b| format!("{b:02x}")).collect();
            json!({ "bytes": hex })
        }
    }
}

fn arg_json(a: &AuditArg) -> serde_json::Value {
    match a {
        AuditArg::Scalar(s) => scalar_json(s),
        AuditArg::Tuple(items) => items.iter().map(scalar_json).collect(),
        AuditArg::Socket(s) => serde_json::json!({
            "socket": { "fd": s.fd, "family": s.family, "type": s.socket_type, "proto": s.proto }
        }),
    }
}

/// The system call a [fault injector](crate::NativesockCtxBuilder::inject_faults)
/// is asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Call {
    /// `socket`.
    Socket,
    /// `socketpair`.
    Socketpair,
    /// `close` (the fd is closed and leaves the store even when this fails).
    Close,
    /// `connect`.
    Connect,
    /// `bind`.
    Bind,
    /// `listen`.
    Listen,
    /// `accept4`.
    Accept,
    /// `getsockname`.
    Getsockname,
    /// `getpeername`.
    Getpeername,
    /// `getsockopt`.
    Getsockopt,
    /// `setsockopt`, with a value or NULL.
    Setsockopt,
    /// `send`.
    Send,
    /// `sendto`.
    Sendto,
    /// `recv`.
    Recv,
    /// `recvfrom`.
    Recvfrom,
    /// `shutdown`.
    Shutdown,
    /// `fcntl(F_DUPFD_CLOEXEC)`.
    Dup,
    /// `fcntl` reading or setting `FD_CLOEXEC` or reading `O_NONBLOCK`, and
    /// `ioctl(FIONBIO)` setting it.
    Fcntl,
    /// `poll`.
    Poll,
    /// `getaddrinfo`.
    Getaddrinfo,
    /// `getnameinfo`.
    Getnameinfo,
    /// `gethostname`.
    Gethostname,
}

/// What a [fault injector](crate::NativesockCtxBuilder::inject_faults) makes
/// of one call. The fd and policy checks come first: a fault never lets a
/// call through that they refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The call fails with this errno (`EINTR`, `EAGAIN`, `ENOBUFS`,
    /// `ECONNRESET`...) without being made. For `getaddrinfo` and
    /// `getnameinfo` a positive value is an errno behind `EAI_SYSTEM` and a
    /// negative value an `EAI_*` code.
    Errno(i32),
    /// `send` and `sendto` hand the kernel only the first N bytes (at least
    /// 1), so the call reports a short write of at most N. No effect on
    /// other calls.
    ShortWrite(usize),
    /// `recv` and `recvfrom` ask the kernel for at most N bytes (at least
    /// 1): a short read. No effect on other calls.
    ShortRead(usize),
}

/// An audit hook.
pub(crate) type AuditHook = Arc<dyn Fn(&AuditEvent) -> Result<(), Raised> + Send + Sync>;
/// The signal check.
pub(crate) type SignalCheck = Arc<dyn Fn() -> Result<(), Raised> + Send + Sync>;
/// The fault injector.
pub(crate) type FaultInjector = Arc<dyn Fn(Call) -> Option<Fault> + Send + Sync>;

// The arguments of the host's own events, as CPython spells them.

/// An int audit argument.
pub(crate) fn int_arg(i: i64) -> AuditArg {
    AuditArg::Scalar(AuditScalar::Int(i))
}

/// `(fd, level, name)` as audit arguments.
pub(crate) fn sockopt_args(fd: RawFd, level: i32, name: i32) -> Vec<AuditArg> {
    vec![
        int_arg(fd.into()),
        int_arg(level.into()),
        int_arg(name.into()),
    ]
}

/// `(family, type, proto)` as audit arguments.
pub(crate) fn socket_args(family: i32, socket_type: i32, proto: i32) -> Vec<AuditArg> {
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
pub(crate) fn address_arg(address: &SockAddr) -> AuditArg {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_event_json_covers_every_argument_kind() {
        let event = AuditEvent {
            name: "socket.connect".into(),
            args: vec![
                AuditArg::Socket(SocketRef {
                    fd: 3,
                    family: 2,
                    socket_type: 1,
                    proto: 0,
                }),
                AuditArg::Tuple(vec![
                    AuditScalar::Str("127.0.0.1".into()),
                    AuditScalar::Int(80),
                ]),
                AuditArg::Scalar(AuditScalar::None),
                AuditArg::Scalar(AuditScalar::Boolean(true)),
                AuditArg::Scalar(AuditScalar::Float(1.5)),
                AuditArg::Scalar(AuditScalar::Float(f64::NAN)),
                AuditArg::Scalar(AuditScalar::Float(f64::NEG_INFINITY)),
                AuditArg::Scalar(AuditScalar::Bytes(b"\0ab".to_vec())),
                AuditArg::Tuple(vec![
                    AuditScalar::Str("::1".into()),
                    AuditScalar::Int(1),
                    AuditScalar::BigInt("18446744073709551621".into()),
                ]),
                AuditArg::Scalar(AuditScalar::Object("list".into())),
            ],
        };
        assert_eq!(
            event.to_json(),
            r#"{"event":"socket.connect","args":[{"socket":{"family":2,"fd":3,"proto":0,"type":1}},["127.0.0.1",80],null,true,1.5,{"float":"nan"},{"float":"-inf"},{"bytes":"006162"},["::1",1,{"int":"18446744073709551621"}],{"object":"list"}]}"#
        );
    }

    #[test]
    fn raised_displays_like_python() {
        assert_eq!(
            Raised::keyboard_interrupt().to_string(),
            "KeyboardInterrupt"
        );
        assert_eq!(
            Raised::new("PermissionError", "denied").to_string(),
            "PermissionError: denied"
        );
    }
}
