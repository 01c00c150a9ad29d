//! Method arguments as CPython 3.11 parses them: the defaults `socket.py`
//! fills in, the C converters (`conv`), and the order in which their
//! errors win. Pure functions of their inputs (the host's constants are
//! passed in), so they are unit-tested natively.

use crate::bindings::exports::nativesock::socket::socket::Value;
use crate::conv;
use crate::error::{PyResult, os_error_msg, plain, type_error, value_error};
use crate::timeout;

/// `socket.socket.__init__(family=-1, type=-1, proto=-1, fileno=None)`
/// (`Lib/socket.py`): without `fileno`, a missing (or `-1`) family, type and
/// proto become `AF_INET`, `SOCK_STREAM` and 0; with `fileno` they stay -1,
/// to be read from the fd. Then the argument clinic converts the three with
/// `_PyLong_AsInt` (before the `socket.__new__` audit event).
pub fn socket_init(
    family: Option<i64>,
    kind: Option<i64>,
    proto: Option<i64>,
    has_fileno: bool,
    af_inet: i32,
    sock_stream: i32,
) -> PyResult<(i32, i32, i32)> {
    let pick = |v: Option<i64>, default: i32| -> i64 {
        match v.unwrap_or(-1) {
            -1 if !has_fileno => i64::from(default),
            v => v,
        }
    };
    Ok((
        conv::as_int(pick(family, af_inet))?,
        conv::as_int(pick(kind, sock_stream))?,
        conv::as_int(pick(proto, 0))?,
    ))
}

/// `fileno=`: `PyLong_AsSocket_t` (truncating), then `ValueError` when
/// negative (`sock_initobj_impl`, after the audit event).
pub fn fileno(fileno: i64) -> PyResult<i32> {
    let fd = conv::as_socket_t(fileno);
    if fd < 0 {
        return Err(value_error("negative file descriptor"));
    }
    Ok(fd)
}

/// `init_sockobject`: `s.type` with `SOCK_NONBLOCK` and `SOCK_CLOEXEC`
/// masked off ("simple code like 'if sock.type == SOCK_STREAM' is not
/// portable" otherwise). A flag the host lacks is 0.
pub fn mask_type(kind: i32, sock_nonblock: i32, sock_cloexec: i32) -> i32 {
    kind & !sock_nonblock & !sock_cloexec
}

/// `init_sockobject`'s timeout: 0 for a `SOCK_NONBLOCK` type, otherwise the
/// module default. The bool says whether the fd must be made non-blocking
/// (`internal_setblocking(s, 0)` when the default is not `None`).
pub fn initial_timeout(kind: i32, sock_nonblock: i32, default: i64) -> (i64, bool) {
    if sock_nonblock != 0 && kind & sock_nonblock != 0 {
        (0, false)
    } else {
        (default, default >= 0)
    }
}

/// `sock_listen`: `PyArg_ParseTuple(args, "|i:listen", &backlog)` with the
/// default `Py_MIN(SOMAXCONN, 128)`, and a negative backlog forced to 0
/// ("which doesn't make sense anyway").
pub fn listen_backlog(backlog: Option<i64>, somaxconn: Option<i64>) -> PyResult<i32> {
    let backlog = match backlog {
        Some(b) => conv::arg_i(b)?,
        None => somaxconn.unwrap_or(128).clamp(0, 128) as i32,
    };
    Ok(backlog.max(0))
}

/// `sock_setblocking` (3.11): `PyLong_AsLong(flag)`, so a bool or int is
/// accepted and a float or str is the `__index__` `TypeError` (3.12 uses
/// `PyObject_IsTrue` instead, spec §10.2). Returns the new `sock_timeout`:
/// `None` for a true flag, 0 for a false one.
pub fn setblocking(flag: &Value) -> PyResult<i64> {
    let block = conv::as_long(flag)?;
    Ok(if block != 0 { timeout::NONE } else { 0 })
}

/// `recv`/`recvfrom`'s `"n|i"` arguments: flags first (a flags overflow
/// wins over a negative size: `recv(-1, 2**31)` is the OverflowError), then
/// `ValueError("negative buffersize in recv")`.
pub fn recv(bufsize: i64, flags: Option<i64>, method: &str) -> PyResult<(usize, i32)> {
    let flags = conv::arg_i(flags.unwrap_or(0))?;
    if bufsize < 0 {
        return Err(value_error(format!("negative buffersize in {method}")));
    }
    bytes_of(bufsize)?;
    Ok((usize::try_from(bufsize).unwrap_or(usize::MAX), flags))
}

/// `PyBytes_FromStringAndSize(NULL, n)`, which `recv`, `recvfrom` and
/// `recvmsg` call before receiving (so nothing is consumed when it fails):
/// past `PY_SSIZE_T_MAX - PyBytesObject_SIZE` (33 bytes of header on a
/// 64-bit host) `OverflowError`; past what any 64-bit address space holds
/// (2**47 bytes), malloc's failure, `MemoryError`. (Below that, CPython's
/// malloc may still fail on a host with less memory; the component never
/// allocates what was merely asked for, so it receives.)
pub fn bytes_of(n: i64) -> PyResult<()> {
    if n > i64::MAX - 33 {
        return Err(plain("OverflowError", "byte string is too large"));
    }
    if n >= 1 << 47 {
        return Err(plain("MemoryError", ""));
    }
    Ok(())
}

/// What `getsockopt` reads.
#[derive(Debug, PartialEq)]
pub enum GetOpt {
    /// A C int (no `buflen`, or `buflen == 0`).
    Int,
    /// An `AF_VSOCK` option without `buflen`: a `uint64_t`.
    U64,
    /// `buflen` bytes.
    Bytes(u32),
}

/// `sock_getsockopt`: `"ii|i"` (all three converted first; `buflen` lands in
/// an unsigned `socklen_t`, so -1 is huge), then for `AF_VSOCK` no buffer
/// form, then `0 < buflen <= 1024`.
pub fn getsockopt(
    level: i64,
    optname: i64,
    buflen: Option<i64>,
    vsock: bool,
) -> PyResult<(i32, i32, GetOpt)> {
    let level = conv::arg_i(level)?;
    let optname = conv::arg_i(optname)?;
    let buflen = match buflen {
        Some(b) => conv::arg_i(b)? as u32,
        None => 0,
    };
    if buflen == 0 {
        return Ok((
            level,
            optname,
            if vsock { GetOpt::U64 } else { GetOpt::Int },
        ));
    }
    if vsock {
        return Err(os_error_msg("getsockopt string buffer not allowed"));
    }
    if buflen > 1024 {
        return Err(os_error_msg("getsockopt buflen out of range"));
    }
    Ok((level, optname, GetOpt::Bytes(buflen)))
}

/// What `setsockopt` writes.
#[derive(Debug, PartialEq)]
pub enum SetOpt {
    /// `setsockopt(level, opt, int)`: a C int, `sizeof(int)` bytes.
    Int(i32),
    /// `setsockopt(level, opt, None, optlen)`: a NULL value of `optlen` bytes.
    Null(u32),
    /// `setsockopt(level, opt, buffer)`.
    Bytes(Vec<u8>),
    /// `AF_VSOCK`: a `uint64_t`.
    U64(u64),
}

/// `sock_setsockopt` tries three `PyArg_ParseTuple` formats in turn,
/// clearing the error of the first two, so the exception a bad call gets is
/// the *last* format's (`"iiy*"`): `setsockopt(l, o, 2**31)` is
/// `TypeError("a bytes-like object is required, not 'int'")`, and any
/// 4-argument call that is not `(None, optlen)` is
/// `setsockopt() takes exactly 3 arguments (4 given)` (observed).
/// `AF_VSOCK` sockets only try `"iiK"`.
pub fn setsockopt(
    level: i64,
    optname: i64,
    value: Value,
    optlen: Option<i64>,
    vsock: bool,
) -> PyResult<(i32, i32, SetOpt)> {
    let nargs = if optlen.is_some() { 4 } else { 3 };
    let too_many = || {
        type_error(format!(
            "setsockopt() takes exactly 3 arguments ({nargs} given)"
        ))
    };
    if vsock {
        // "iiK:setsockopt": the count is checked before any conversion.
        if nargs != 3 {
            return Err(too_many());
        }
        let level = conv::arg_i(level)?;
        let optname = conv::arg_i(optname)?;
        // `K` is `PyLong_AsUnsignedLongLongMask` on an int, no range check.
        let v = match &value {
            Value::Int(i) => *i as u64,
            Value::Boolean(b) => u64::from(*b),
            other => return Err(conv::must_be("setsockopt", 3, "int", other)),
        };
        return Ok((level, optname, SetOpt::U64(v)));
    }
    let ints = conv::arg_i(level).ok().zip(conv::arg_i(optname).ok());
    // 1. "iii": setsockopt(level, opt, flag).
    if nargs == 3
        && let Some((l, o)) = ints
        && let Ok(flag) = conv::as_long(&value).and_then(conv::arg_i)
    {
        return Ok((l, o, SetOpt::Int(flag)));
    }
    // 2. "iiO!I": setsockopt(level, opt, None, optlen).
    if let (Some(optlen), Value::None, Some((l, o))) = (optlen, &value, ints) {
        return Ok((l, o, SetOpt::Null(conv::arg_uint_mask(optlen))));
    }
    // 3. "iiy*": setsockopt(level, opt, buffer); its errors are the ones raised.
    if nargs != 3 {
        return Err(too_many());
    }
    let level = conv::arg_i(level)?;
    let optname = conv::arg_i(optname)?;
    match value {
        Value::Bytes(b) => Ok((level, optname, SetOpt::Bytes(b))),
        other => Err(type_error(format!(
            "a bytes-like object is required, not '{}'",
            conv::type_name(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<T: std::fmt::Debug>(r: PyResult<T>) -> (String, String) {
        let e = r.unwrap_err();
        (e.exception, e.message)
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn socket_defaults_follow_socket_py() {
        assert_eq!(
            socket_init(None, None, None, false, 2, 1).unwrap(),
            (2, 1, 0)
        );
        assert_eq!(
            socket_init(Some(-1), Some(-1), Some(-1), false, 2, 1).unwrap(),
            (2, 1, 0)
        );
        assert_eq!(
            socket_init(Some(10), Some(2), Some(17), false, 2, 1).unwrap(),
            (10, 2, 17)
        );
        assert_eq!(
            socket_init(None, None, None, true, 2, 1).unwrap(),
            (-1, -1, -1)
        );
        assert_eq!(
            socket_init(Some(1), None, None, true, 2, 1).unwrap(),
            (1, -1, -1)
        );
        assert_eq!(
            msg(socket_init(Some(1 << 31), None, None, false, 2, 1)),
            pair("OverflowError", "Python int too large to convert to C int")
        );
        assert_eq!(
            msg(socket_init(None, None, Some(-(1 << 31) - 1), false, 2, 1)),
            pair("OverflowError", "Python int too large to convert to C int")
        );
    }

    #[test]
    fn fileno_is_truncated_then_checked() {
        assert_eq!(fileno(3).unwrap(), 3);
        assert_eq!(fileno((1 << 32) + 3).unwrap(), 3);
        for bad in [-1, -42, 1 << 31] {
            assert_eq!(
                msg(fileno(bad)),
                pair("ValueError", "negative file descriptor")
            );
        }
    }

    #[test]
    fn type_is_masked() {
        // Linux: SOCK_NONBLOCK 0o4000, SOCK_CLOEXEC 0o2000000.
        assert_eq!(mask_type(1 | 0o4000 | 0o2000000, 0o4000, 0o2000000), 1);
        assert_eq!(mask_type(2, 0, 0), 2);
    }

    #[test]
    fn initial_timeout_rules() {
        assert_eq!(
            initial_timeout(1 | 0o4000, 0o4000, timeout::NONE),
            (0, false)
        );
        assert_eq!(
            initial_timeout(1 | 0o4000, 0o4000, 3_000_000_000),
            (0, false)
        );
        assert_eq!(
            initial_timeout(1, 0o4000, timeout::NONE),
            (timeout::NONE, false)
        );
        assert_eq!(initial_timeout(1, 0o4000, 0), (0, true));
        assert_eq!(
            initial_timeout(1, 0o4000, 1_500_000_000),
            (1_500_000_000, true)
        );
        assert_eq!(initial_timeout(1, 0, 5), (5, true));
    }

    #[test]
    fn listen_backlog_defaults_and_clamps() {
        assert_eq!(listen_backlog(None, Some(4096)).unwrap(), 128);
        assert_eq!(listen_backlog(None, Some(64)).unwrap(), 64);
        assert_eq!(listen_backlog(None, None).unwrap(), 128);
        assert_eq!(listen_backlog(Some(0), Some(4096)).unwrap(), 0);
        assert_eq!(listen_backlog(Some(-1), Some(4096)).unwrap(), 0);
        assert_eq!(listen_backlog(Some(-(1 << 31)), Some(4096)).unwrap(), 0);
        assert_eq!(listen_backlog(Some(1000), Some(4096)).unwrap(), 1000);
        assert_eq!(
            msg(listen_backlog(Some(1 << 31), None)),
            pair("OverflowError", "signed integer is greater than maximum")
        );
        assert_eq!(
            msg(listen_backlog(Some(-(1 << 31) - 1), None)),
            pair("OverflowError", "signed integer is less than minimum")
        );
    }

    #[test]
    fn setblocking_flag_is_an_int() {
        assert_eq!(setblocking(&Value::Boolean(true)).unwrap(), timeout::NONE);
        assert_eq!(setblocking(&Value::Boolean(false)).unwrap(), 0);
        assert_eq!(setblocking(&Value::Int(1 << 32)).unwrap(), timeout::NONE);
        assert_eq!(setblocking(&Value::Int(-1)).unwrap(), timeout::NONE);
        assert_eq!(setblocking(&Value::Int(0)).unwrap(), 0);
        assert_eq!(
            msg(setblocking(&Value::Float(1.0))),
            pair(
                "TypeError",
                "'float' object cannot be interpreted as an integer"
            )
        );
        assert_eq!(
            msg(setblocking(&Value::Str("x".into()))),
            pair(
                "TypeError",
                "'str' object cannot be interpreted as an integer"
            )
        );
    }

    #[test]
    fn recv_arguments() {
        assert_eq!(recv(10, None, "recv").unwrap(), (10, 0));
        assert_eq!(recv(0, Some(2), "recv").unwrap(), (0, 2));
        assert_eq!(
            msg(recv(-1, None, "recv")),
            pair("ValueError", "negative buffersize in recv")
        );
        assert_eq!(
            msg(recv(-1, None, "recvfrom")),
            pair("ValueError", "negative buffersize in recvfrom")
        );
        assert_eq!(
            msg(recv(-1, Some(1 << 31), "recv")),
            pair("OverflowError", "signed integer is greater than maximum")
        );
    }

    #[test]
    fn getsockopt_arguments() {
        assert_eq!(getsockopt(1, 2, None, false).unwrap(), (1, 2, GetOpt::Int));
        assert_eq!(
            getsockopt(1, 2, Some(0), false).unwrap(),
            (1, 2, GetOpt::Int)
        );
        assert_eq!(
            getsockopt(1, 4, Some(4), false).unwrap(),
            (1, 4, GetOpt::Bytes(4))
        );
        assert_eq!(
            getsockopt(1, 4, Some(1024), false).unwrap(),
            (1, 4, GetOpt::Bytes(1024))
        );
        for bad in [-1, 1025, 2000] {
            assert_eq!(
                msg(getsockopt(1, 2, Some(bad), false)),
                pair("OSError", "getsockopt buflen out of range")
            );
        }
        assert_eq!(
            msg(getsockopt(1 << 31, 1, None, false)),
            pair("OverflowError", "signed integer is greater than maximum")
        );
        assert_eq!(
            msg(getsockopt(1, 2, Some(1 << 31), false)),
            pair("OverflowError", "signed integer is greater than maximum")
        );
        assert_eq!(getsockopt(1, 2, None, true).unwrap(), (1, 2, GetOpt::U64));
        assert_eq!(
            msg(getsockopt(1, 2, Some(4), true)),
            pair("OSError", "getsockopt string buffer not allowed")
        );
    }

    #[test]
    fn setsockopt_arguments_and_their_errors() {
        let ok = |v: Value, optlen: Option<i64>| setsockopt(1, 2, v, optlen, false).unwrap().2;
        assert_eq!(ok(Value::Int(1), None), SetOpt::Int(1));
        assert_eq!(ok(Value::Boolean(true), None), SetOpt::Int(1));
        assert_eq!(
            ok(Value::Bytes(vec![1, 0, 0, 0]), None),
            SetOpt::Bytes(vec![1, 0, 0, 0])
        );
        assert_eq!(ok(Value::None, Some(4)), SetOpt::Null(4));
        assert_eq!(ok(Value::None, Some(-1)), SetOpt::Null(u32::MAX));
        assert_eq!(ok(Value::None, Some(1 << 32)), SetOpt::Null(0));

        let err =
            |l: i64, o: i64, v: Value, optlen: Option<i64>| msg(setsockopt(l, o, v, optlen, false));
        let bytes_like = |t: &str| {
            pair(
                "TypeError",
                &format!("a bytes-like object is required, not '{t}'"),
            )
        };
        assert_eq!(err(1, 2, Value::Str("x".into()), None), bytes_like("str"));
        assert_eq!(err(1, 2, Value::Int(1 << 31), None), bytes_like("int"));
        assert_eq!(err(1, 2, Value::None, None), bytes_like("NoneType"));
        assert_eq!(err(1, 2, Value::Float(1.5), None), bytes_like("float"));
        let three = pair(
            "TypeError",
            "setsockopt() takes exactly 3 arguments (4 given)",
        );
        assert_eq!(err(1, 2, Value::Int(1), Some(5)), three);
        assert_eq!(err(1, 2, Value::Bytes(vec![1]), Some(5)), three);
        assert_eq!(err(1, 2, Value::Str("x".into()), Some(4)), three);
        assert_eq!(err(1 << 31, 2, Value::None, Some(4)), three);
        let greater = pair("OverflowError", "signed integer is greater than maximum");
        assert_eq!(err(1 << 31, 2, Value::Int(1), None), greater);
        assert_eq!(err(1, 1 << 31, Value::Bytes(vec![1]), None), greater);
    }

    #[test]
    fn setsockopt_vsock() {
        let ok = |v: Value| setsockopt(1, 2, v, None, true).unwrap().2;
        assert_eq!(ok(Value::Int(1)), SetOpt::U64(1));
        assert_eq!(ok(Value::Int(-1)), SetOpt::U64(u64::MAX));
        assert_eq!(ok(Value::Boolean(true)), SetOpt::U64(1));
        assert_eq!(
            msg(setsockopt(1, 2, Value::Bytes(vec![1]), None, true)),
            pair(
                "TypeError",
                "setsockopt() argument 3 must be int, not bytes"
            )
        );
        assert_eq!(
            msg(setsockopt(1, 2, Value::Float(1.5), None, true)),
            pair(
                "TypeError",
                "setsockopt() argument 3 must be int, not float"
            )
        );
        assert_eq!(
            msg(setsockopt(1, 2, Value::None, Some(4), true)),
            pair(
                "TypeError",
                "setsockopt() takes exactly 3 arguments (4 given)"
            )
        );
    }
}
