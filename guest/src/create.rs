//! `Lib/socket.py`'s helpers that build connected or listening sockets:
//! `create_connection`, `create_server` and `has_dualstack_ipv6`, as
//! Python 3.11 writes them, on the component's own socket object.

use crate::addr;
use crate::bindings::exports::nativesock::socket::socket::{
    Address, Error, GuestSocket, Socket, Value,
};
use crate::consts;
use crate::conv;
use crate::error::{self, PyResult, os_error_msg, type_error, value_error};
use crate::netdb;
use crate::pyrepr;
use crate::socket::PySocket;

/// Whether `exception` is `OSError` or one of its subclasses, which
/// `except error:` catches (`socket.error is OSError`).
pub fn is_os_error(e: &Error) -> bool {
    matches!(
        e.exception.as_str(),
        "OSError"
            | "BlockingIOError"
            | "ChildProcessError"
            | "ConnectionError"
            | "BrokenPipeError"
            | "ConnectionAbortedError"
            | "ConnectionRefusedError"
            | "ConnectionResetError"
            | "FileExistsError"
            | "FileNotFoundError"
            | "InterruptedError"
            | "IsADirectoryError"
            | "NotADirectoryError"
            | "PermissionError"
            | "ProcessLookupError"
            | "TimeoutError"
            | "gaierror"
            | "herror"
    )
}

/// `host, port = address`: Python's unpacking of any iterable into two names.
fn unpack_pair(address: &Address) -> PyResult<(Value, Value)> {
    let items: Vec<Value> = match &*addr::as_python(address) {
        Address::Tuple(items) | Address::List(items) => items.clone(),
        Address::Scalar(Value::Str(s)) => s.chars().map(|c| Value::Str(c.into())).collect(),
        Address::Scalar(Value::Bytes(b)) => b.iter().map(|&c| Value::Int(c.into())).collect(),
        Address::Scalar(other) => {
            return Err(type_error(format!(
                "cannot unpack non-iterable {} object",
                conv::type_name(other)
            )));
        }
        Address::Inet(_) => unreachable!("as_python returns no inet address"),
    };
    match <[Value; 2]>::try_from(items) {
        Ok([host, port]) => Ok((host, port)),
        Err(items) if items.len() > 2 => Err(value_error("too many values to unpack (expected 2)")),
        Err(items) => Err(value_error(format!(
            "not enough values to unpack (expected 2, got {})",
            items.len()
        ))),
    }
}

/// `repr(address)`.
fn address_repr(address: &Address) -> String {
    match address {
        Address::Scalar(v) => pyrepr::value_repr(v),
        other => pyrepr::address_str(other),
    }
}

/// `socket.create_connection(address, timeout, source_address, *, all_errors)`
/// (`Lib/socket.py` L809-856).
pub fn create_connection(
    address: Address,
    timeout: Option<Value>,
    source_address: Option<Address>,
    all_errors: bool,
) -> PyResult<Socket> {
    let (host, port) = unpack_pair(&address)?;
    let infos = netdb::getaddrinfo(
        host,
        port,
        Some(&Value::Int(0)),
        Some(&Value::Int(consts::c("SOCK_STREAM").into())),
        None,
        None,
    )?;
    let mut exceptions: Vec<Error> = Vec::new();
    for ai in infos {
        let mut sock: Option<PySocket> = None;
        let attempt = (|| {
            let s = sock.insert(PySocket::new(
                Some(&Value::Int(ai.family)),
                Some(&Value::Int(ai.socket_type)),
                Some(&Value::Int(ai.proto)),
                None,
            )?);
            if let Some(t) = &timeout {
                s.settimeout(t.clone())?;
            }
            if let Some(src) = &source_address
                && pyrepr::address_truthy(src)
            {
                s.bind(src.clone())?;
            }
            s.connect(ai.sockaddr.clone())
        })();
        match attempt {
            Ok(()) => {
                let s = sock.take().expect("the socket was created");
                return Ok(Socket::new(s));
            }
            // Only `except error:` is caught; anything else leaves at once.
            Err(e) if !is_os_error(&e) => return Err(e),
            Err(e) => {
                if !all_errors {
                    // "raise only the last error"
                    exceptions.clear();
                }
                exceptions.push(e);
                if let Some(s) = sock.take() {
                    let _ = s.close();
                }
            }
        }
    }
    if exceptions.is_empty() {
        return Err(os_error_msg("getaddrinfo returns an empty list"));
    }
    if all_errors {
        Err(error::exception_group(
            "create_connection failed",
            exceptions,
        ))
    } else {
        Err(exceptions.swap_remove(0))
    }
}

/// `socket.has_dualstack_ipv6()`: whether an `AF_INET6` stream socket
/// accepts `IPV6_V6ONLY = 0`. (Python lets a non-OSError exception from
/// the probe, such as an audit hook's, propagate; here it means False.)
pub fn has_dualstack_ipv6() -> bool {
    let (Some(af_inet6), Some(level), Some(opt)) = (
        consts::get("AF_INET6"),
        consts::get("IPPROTO_IPV6"),
        consts::get("IPV6_V6ONLY"),
    ) else {
        return false;
    };
    let Ok(sock) = PySocket::new(
        Some(&Value::Int(af_inet6)),
        Some(&Value::Int(consts::c("SOCK_STREAM").into())),
        None,
        None,
    ) else {
        return false;
    };
    let ok = sock
        .setsockopt(Value::Int(level), Value::Int(opt), Value::Int(0), None)
        .is_ok();
    let _ = sock.close();
    ok
}

/// `socket.create_server(address, *, family, backlog, reuse_port, dualstack_ipv6)`
/// (`Lib/socket.py` L870-937, the POSIX branch).
pub fn create_server(
    address: Address,
    family: Option<Value>,
    backlog: Option<Value>,
    reuse_port: bool,
    dualstack_ipv6: bool,
) -> PyResult<Socket> {
    let family = family.unwrap_or_else(|| Value::Int(consts::c("AF_INET").into()));
    let af_inet6 = consts::get("AF_INET6");
    // `family == AF_INET6`, as `socket.py` compares (an int or a bool; a
    // value of another type is never equal, and fails in `socket()`).
    let is_inet6 =
        af_inet6.is_some_and(|f| conv::index(&family).ok() == Some(conv::PyInt::Long(f)));
    // `backlog=None` is `listen()`'s default.
    let backlog = backlog.filter(|v| !matches!(v, Value::None));
    if reuse_port && consts::get("SO_REUSEPORT").is_none() {
        return Err(value_error("SO_REUSEPORT not supported on this platform"));
    }
    if dualstack_ipv6 {
        if !has_dualstack_ipv6() {
            return Err(value_error("dualstack_ipv6 not supported on this platform"));
        }
        if !is_inet6 {
            return Err(value_error("dualstack_ipv6 requires AF_INET6 family"));
        }
    }
    let sock = PySocket::new(
        Some(&family),
        Some(&Value::Int(consts::c("SOCK_STREAM").into())),
        None,
        None,
    )?;
    let int = Value::Int;
    let sol_socket = i64::from(consts::c("SOL_SOCKET"));
    let setup = || -> PyResult<()> {
        if let Some(opt) = consts::get("SO_REUSEADDR") {
            // "Fail later on bind(), for platforms which may not support this option."
            let _ = sock.setsockopt(int(sol_socket), int(opt), int(1), None);
        }
        if reuse_port {
            let opt = consts::get("SO_REUSEPORT").unwrap_or_default();
            sock.setsockopt(int(sol_socket), int(opt), int(1), None)?;
        }
        if is_inet6
            && let (Some(level), Some(opt)) =
                (consts::get("IPPROTO_IPV6"), consts::get("IPV6_V6ONLY"))
        {
            let only = if dualstack_ipv6 { 0 } else { 1 };
            sock.setsockopt(int(level), int(opt), int(only), None)?;
        }
        if let Err(err) = sock.bind(address.clone()) {
            if !is_os_error(&err) {
                return Err(err);
            }
            // `raise error(err.errno, msg) from None`.
            let strerror = err.strerror.unwrap_or_else(|| "None".to_string());
            let msg = format!(
                "{strerror} (while attempting to bind on address {})",
                address_repr(&address)
            );
            return Err(error::os_error_args(err.errno, msg));
        }
        sock.listen(backlog)
    };
    match setup() {
        Ok(()) => Ok(Socket::new(sock)),
        Err(e) => {
            if is_os_error(&e) {
                let _ = sock.close();
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: std::fmt::Debug>(r: PyResult<T>) -> (String, String) {
        let e = r.unwrap_err();
        (e.exception, e.message)
    }

    /// `repr()` of both names, for comparisons (`Value` has no `PartialEq`).
    fn names(a: &Address) -> (String, String) {
        let (x, y) = unpack_pair(a).unwrap();
        (pyrepr::value_repr(&x), pyrepr::value_repr(&y))
    }

    #[test]
    fn address_unpacks_like_python() {
        let s = |t: &str| Value::Str(t.into());
        let want = ("'h'".to_string(), "1".to_string());
        assert_eq!(names(&Address::Tuple(vec![s("h"), Value::Int(1)])), want);
        assert_eq!(names(&Address::List(vec![s("h"), Value::Int(1)])), want);
        assert_eq!(
            names(&Address::Scalar(s("ab"))),
            ("'a'".to_string(), "'b'".to_string())
        );
        assert_eq!(
            err(unpack_pair(&Address::Tuple(vec![s("h")]))),
            (
                "ValueError".into(),
                "not enough values to unpack (expected 2, got 1)".into()
            )
        );
        assert_eq!(
            err(unpack_pair(&Address::Tuple(vec![s("h"), s("p"), s("x")]))),
            (
                "ValueError".into(),
                "too many values to unpack (expected 2)".into()
            )
        );
        assert_eq!(
            err(unpack_pair(&Address::Scalar(Value::None))),
            (
                "TypeError".into(),
                "cannot unpack non-iterable NoneType object".into()
            )
        );
    }

    #[test]
    fn exception_groups_keep_their_members() {
        let e = error::exception_group(
            "create_connection failed",
            vec![
                error::plain("TimeoutError", "timed out"),
                error::plain("OSError", "x"),
            ],
        );
        assert_eq!(e.exception, "ExceptionGroup");
        assert_eq!(e.message, "create_connection failed (2 sub-exceptions)");
        assert_eq!(e.errno, None);
        let names: Vec<&str> = e.exceptions.iter().map(|x| x.exception.as_str()).collect();
        assert_eq!(names, ["TimeoutError", "OSError"]);
        let one = error::exception_group("g", vec![error::plain("OSError", "x")]);
        assert_eq!(one.message, "g (1 sub-exception)");
    }

    #[test]
    fn os_error_subclasses_are_caught() {
        for name in [
            "OSError",
            "ConnectionRefusedError",
            "TimeoutError",
            "gaierror",
            "herror",
        ] {
            assert!(is_os_error(&error::plain(name, "")), "{name}");
        }
        for name in [
            "TypeError",
            "ValueError",
            "KeyboardInterrupt",
            "ExceptionGroup",
        ] {
            assert!(!is_os_error(&error::plain(name, "")), "{name}");
        }
    }

    #[test]
    fn reworded_bind_error_without_errno() {
        let e = error::os_error_args(
            None,
            "None (while attempting to bind on address 'x')".into(),
        );
        assert_eq!(e.exception, "OSError");
        assert_eq!(
            e.message,
            "[Errno None] None (while attempting to bind on address 'x')"
        );
    }
}
