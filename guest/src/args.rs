//! Method arguments as CPython 3.11 parses them: the defaults `socket.py`
//! fills in, the C converters (`conv`), and the order in which their
//! errors win. Pure functions of their inputs (the host's constants are
//! passed in), so they are unit-tested natively.

use crate::bindings::exports::nativesock::socket::socket::Value;
use crate::conv;
use crate::error::{PyResult, os_error_msg, plain, type_error, value_error};
use crate::timeout;

/// `socket.socket.__init__(family=-1, type=-1, proto=-1, fileno=None)`
/// (`Lib/socket.py`): without `fileno`, a missing family, type and proto,
/// or one equal to -1 (`-1.0` too: `socket.py` compares with `==`), become
/// `AF_INET`, `SOCK_STREAM` and 0; with `fileno` they stay -1, to be read
/// from the fd. Then the argument clinic converts the three with
/// `_PyLong_AsInt` (before the `socket.__new__` audit event); an explicit
/// `None` is its `TypeError`.
pub fn socket_init(
    family: Option<&Value>,
    kind: Option<&Value>,
    proto: Option<&Value>,
    has_fileno: bool,
    af_inet: i32,
    sock_stream: i32,
) -> PyResult<(i32, i32, i32)> {
    let pick = |v: Option<&Value>, default: i32| -> PyResult<i32> {
        match v {
            None => Ok(if has_fileno { -1 } else { default }),
            Some(v) if !has_fileno && equals_minus_one(v) => Ok(default),
            Some(v) => conv::as_int(v),
        }
    };
    Ok((
        pick(family, af_inet)?,
        pick(kind, sock_stream)?,
        pick(proto, 0)?,
    ))
}

/// `v == -1` in Python, for the values `socket.py` compares.
fn equals_minus_one(v: &Value) -> bool {
    match v {
        Value::Int(i) => *i == -1,
        Value::Float(f) => *f == -1.0,
        Value::BigInt(_) => conv::index(v).ok() == Some(conv::PyInt::Long(-1)),
        _ => false,
    }
}

/// `fileno=`: `PyLong_AsSocket_t` (a C long, truncated), then `ValueError`
/// when negative (`sock_initobj_impl`, after the audit event).
pub fn fileno(fileno: &Value) -> PyResult<i32> {
    let fd = conv::as_socket_t(fileno)?;
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
pub fn listen_backlog(backlog: Option<&Value>, somaxconn: Option<i64>) -> PyResult<i32> {
    let backlog = match backlog {
        Some(b) => conv::arg_i(b)?,
        None => somaxconn.unwrap_or(128).clamp(0, 128) as i32,
    };
    Ok(backlog.max(0))
}

/// `sock_setblocking` (3.11): `PyLong_AsLong(flag)`, so a bool or int is
/// accepted and a float or str is the `__index__` `TypeError` (3.12 uses
/// `PyObject_IsTrue` instead, `Modules/socketmodule.c`). Returns the new `sock_timeout`:
/// `None` for a true flag, 0 for a false one.
pub fn setblocking(flag: &Value) -> PyResult<i64> {
    let block = conv::as_long(flag)?;
    Ok(if block != 0 { timeout::NONE } else { 0 })
}

/// `recv`/`recvfrom`'s `"n|i"` arguments: both converted in order, then
/// the size checked (a flags overflow wins over a negative size:
/// `recv(-1, 2**31)` is the OverflowError), then
/// `ValueError("negative buffersize in recv")`.
pub fn recv(bufsize: &Value, flags: Option<&Value>, method: &str) -> PyResult<(usize, i32)> {
    let bufsize = conv::arg_n(bufsize)?;
    let flags = conv::arg_i_or(flags, 0)?;
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
    level: &Value,
    optname: &Value,
    buflen: Option<&Value>,
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
    level: &Value,
    optname: &Value,
    value: Value,
    optlen: Option<&Value>,
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
            Value::Int(_) | Value::Boolean(_) | Value::BigInt(_) => conv::index(&value)?.mask64(),
            other => return Err(conv::must_be("setsockopt", 3, "int", other)),
        };
        return Ok((level, optname, SetOpt::U64(v)));
    }
    let ints = conv::arg_i(level).ok().zip(conv::arg_i(optname).ok());
    // 1. "iii": setsockopt(level, opt, flag).
    if nargs == 3
        && let Some((l, o)) = ints
        && let Ok(flag) = conv::arg_i(&value)
    {
        return Ok((l, o, SetOpt::Int(flag)));
    }
    // 2. "iiO!I": setsockopt(level, opt, None, optlen).
    if let (Some(optlen), Value::None, Some((l, o))) = (optlen, &value, ints)
        && let Ok(optlen) = conv::arg_uint_mask(optlen)
    {
        return Ok((l, o, SetOpt::Null(optlen)));
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

    fn i(v: i64) -> Value {
        Value::Int(v)
    }

    fn big(digits: &str) -> Value {
        Value::BigInt(digits.into())
    }

    #[test]
    fn socket_defaults_follow_socket_py() {
        assert_eq!(
            socket_init(None, None, None, false, 2, 1).unwrap(),
            (2, 1, 0)
        );
        assert_eq!(
            socket_init(Some(&i(-1)), Some(&i(-1)), Some(&i(-1)), false, 2, 1).unwrap(),
            (2, 1, 0)
        );
        assert_eq!(
            socket_init(Some(&i(10)), Some(&i(2)), Some(&i(17)), false, 2, 1).unwrap(),
            (10, 2, 17)
        );
        assert_eq!(
            socket_init(None, None, None, true, 2, 1).unwrap(),
            (-1, -1, -1)
        );
        assert_eq!(
            socket_init(Some(&i(1)), None, None, true, 2, 1).unwrap(),
            (1, -1, -1)
        );
        assert_eq!(
            msg(socket_init(Some(&i(1 << 31)), None, None, false, 2, 1)),
            pair("OverflowError", "Python int too large to convert to C int")
        );
        assert_eq!(
            msg(socket_init(
                None,
                None,
                Some(&i(-(1 << 31) - 1)),
                false,
                2,
                1
            )),
            pair("OverflowError", "Python int too large to convert to C int")
        );
        assert_eq!(
            msg(socket_init(
                Some(&big("18446744073709551621")),
                None,
                None,
                false,
                2,
                1
            )),
            pair("OverflowError", "Python int too large to convert to C int")
        );
        // `socket.py` compares with -1 before converting; None is converted.
        let minus_one = Value::Float(-1.0);
        assert_eq!(
            socket_init(Some(&minus_one), None, Some(&big("-1")), false, 2, 1).unwrap(),
            (2, 1, 0)
        );
        assert_eq!(
            msg(socket_init(Some(&Value::None), None, None, false, 2, 1)),
            pair(
                "TypeError",
                "'NoneType' object cannot be interpreted as an integer"
            )
        );
    }

    #[test]
    fn fileno_is_truncated_then_checked() {
        assert_eq!(fileno(&i(3)).unwrap(), 3);
        assert_eq!(fileno(&i((1 << 32) + 3)).unwrap(), 3);
        assert_eq!(
            msg(fileno(&big("-9223372036854775809"))),
            pair("OverflowError", "Python int too large to convert to C long")
        );
        assert_eq!(
            msg(fileno(&Value::Float(3.0))),
            pair(
                "TypeError",
                "'float' object cannot be interpreted as an integer"
            )
        );
        for bad in [-1, -42, 1 << 31] {
            assert_eq!(
                msg(fileno(&i(bad))),
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
        assert_eq!(listen_backlog(Some(&i(0)), Some(4096)).unwrap(), 0);
        assert_eq!(listen_backlog(Some(&i(-1)), Some(4096)).unwrap(), 0);
        assert_eq!(listen_backlog(Some(&i(-(1 << 31))), Some(4096)).unwrap(), 0);
        assert_eq!(listen_backlog(Some(&i(1000)), Some(4096)).unwrap(), 1000);
        assert_eq!(
            msg(listen_backlog(Some(&i(1 << 31)), None)),
            pair("OverflowError", "signed integer is greater than maximum")
        );
        assert_eq!(
            msg(listen_backlog(Some(&i(-(1 << 31) - 1)), None)),
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
        assert_eq!(recv(&i(10), None, "recv").unwrap(), (10, 0));
        assert_eq!(recv(&i(0), Some(&i(2)), "recv").unwrap(), (0, 2));
        assert_eq!(
            msg(recv(&i(-1), None, "recv")),
            pair("ValueError", "negative buffersize in recv")
        );
        assert_eq!(
            msg(recv(&i(-1), None, "recvfrom")),
            pair("ValueError", "negative buffersize in recvfrom")
        );
        assert_eq!(
            msg(recv(&i(-1), Some(&i(1 << 31)), "recv")),
            pair("OverflowError", "signed integer is greater than maximum")
        );
        assert_eq!(
            msg(recv(&big("9223372036854775808"), None, "recv")),
            pair(
                "OverflowError",
                "Python int too large to convert to C ssize_t"
            )
        );
        assert_eq!(
            msg(recv(&i(1), Some(&big("-9223372036854775809")), "recv")),
            pair("OverflowError", "Python int too large to convert to C long")
        );
        assert_eq!(
            msg(recv(&Value::Object("list".into()), None, "recv")),
            pair(
                "TypeError",
                "'list' object cannot be interpreted as an integer"
            )
        );
    }

    #[test]
    fn getsockopt_arguments() {
        assert_eq!(
            getsockopt(&i(1), &i(2), None, false).unwrap(),
            (1, 2, GetOpt::Int)
        );
        assert_eq!(
            getsockopt(&i(1), &i(2), Some(&i(0)), false).unwrap(),
            (1, 2, GetOpt::Int)
        );
        assert_eq!(
            getsockopt(&i(1), &i(4), Some(&i(4)), false).unwrap(),
            (1, 4, GetOpt::Bytes(4))
        );
        assert_eq!(
            getsockopt(&i(1), &i(4), Some(&i(1024)), false).unwrap(),
            (1, 4, GetOpt::Bytes(1024))
        );
        for bad in [-1, 1025, 2000] {
            assert_eq!(
                msg(getsockopt(&i(1), &i(2), Some(&i(bad)), false)),
                pair("OSError", "getsockopt buflen out of range")
            );
        }
        assert_eq!(
            msg(getsockopt(&i(1 << 31), &i(1), None, false)),
            pair("OverflowError", "signed integer is greater than maximum")
        );
        assert_eq!(
            msg(getsockopt(&i(1), &i(2), Some(&i(1 << 31)), false)),
            pair("OverflowError", "signed integer is greater than maximum")
        );
        assert_eq!(
            getsockopt(&i(1), &i(2), None, true).unwrap(),
            (1, 2, GetOpt::U64)
        );
        assert_eq!(
            msg(getsockopt(&i(1), &i(2), Some(&i(4)), true)),
            pair("OSError", "getsockopt string buffer not allowed")
        );
    }

    #[test]
    fn setsockopt_arguments_and_their_errors() {
        let ok = |v: Value, optlen: Option<i64>| {
            setsockopt(&i(1), &i(2), v, optlen.map(i).as_ref(), false)
                .unwrap()
                .2
        };
        assert_eq!(ok(Value::Int(1), None), SetOpt::Int(1));
        assert_eq!(ok(Value::Boolean(true), None), SetOpt::Int(1));
        assert_eq!(
            ok(Value::Bytes(vec![1, 0, 0, 0]), None),
            SetOpt::Bytes(vec![1, 0, 0, 0])
        );
        assert_eq!(ok(Value::None, Some(4)), SetOpt::Null(4));
        assert_eq!(ok(Value::None, Some(-1)), SetOpt::Null(u32::MAX));
        assert_eq!(ok(Value::None, Some(1 << 32)), SetOpt::Null(0));
        // "iiO!I" masks an int of any size: 2**64 + 5 is 5.
        let masked = setsockopt(
            &i(1),
            &i(2),
            Value::None,
            Some(&big("18446744073709551621")),
            false,
        );
        assert_eq!(masked.unwrap().2, SetOpt::Null(5));

        let err = |l: i64, o: i64, v: Value, optlen: Option<i64>| {
            msg(setsockopt(&i(l), &i(o), v, optlen.map(i).as_ref(), false))
        };
        let bytes_like = |t: &str| {
            pair(
                "TypeError",
                &format!("a bytes-like object is required, not '{t}'"),
            )
        };
        assert_eq!(err(1, 2, Value::Str("x".into()), None), bytes_like("str"));
        assert_eq!(err(1, 2, Value::Int(1 << 31), None), bytes_like("int"));
        let huge = setsockopt(&i(1), &i(2), big("9223372036854775808"), None, false);
        assert_eq!(msg(huge), bytes_like("int"));
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
        let ok = |v: Value| setsockopt(&i(1), &i(2), v, None, true).unwrap().2;
        assert_eq!(ok(Value::Int(1)), SetOpt::U64(1));
        assert_eq!(ok(Value::Int(-1)), SetOpt::U64(u64::MAX));
        assert_eq!(ok(Value::Boolean(true)), SetOpt::U64(1));
        assert_eq!(ok(big("18446744073709551621")), SetOpt::U64(5));
        assert_eq!(
            msg(setsockopt(&i(1), &i(2), Value::Bytes(vec![1]), None, true)),
            pair(
                "TypeError",
                "setsockopt() argument 3 must be int, not bytes"
            )
        );
        assert_eq!(
            msg(setsockopt(&i(1), &i(2), Value::Float(1.5), None, true)),
            pair(
                "TypeError",
                "setsockopt() argument 3 must be int, not float"
            )
        );
        assert_eq!(
            msg(setsockopt(&i(1), &i(2), Value::None, Some(&i(4)), true)),
            pair(
                "TypeError",
                "setsockopt() takes exactly 3 arguments (4 given)"
            )
        );
    }
}
