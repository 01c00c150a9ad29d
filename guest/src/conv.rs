//! Python int conversions, with CPython's exact overflow and type errors.
//!
//! The exported interface carries every int as `s64` (wide enough for any
//! value a Python program could pass without CPython itself failing first
//! with a `C long` overflow), so the component reproduces the C-level
//! narrowing and its messages here. CPython 3.11 uses three different
//! converters for "a C int", and they word their errors differently:
//!
//! | converter | used by | overflow message |
//! |---|---|---|
//! | `PyArg_ParseTuple` `"i"` | `listen`, `send`/`recv` flags, `getsockopt`, `setsockopt`, `_socket.socketpair` | `signed integer is greater than maximum` / `... less than minimum` |
//! | `_PyLong_AsInt` (argument clinic `int`) | `socket.__init__`, `shutdown` | `Python int too large to convert to C int` (both directions) |
//! | `PyLong_AsSocket_t` = `(int)PyLong_AsLong` | `fileno=`, `socket.close(fd)` | none: the value is truncated to 32 bits |
//!
//! (All observed with CPython 3.11.7: `listen(2**31)`, `shutdown(2**31)`,
//! `socket(fileno=2**32 + fd)` wraps `fd`.)

use crate::bindings::exports::nativesock::socket::socket::{Error, Value};
use crate::error::{PyResult, overflow_error, type_error};

/// `PyArg_ParseTuple`'s `"i"` format (`Python/getargs.c`, `convertsimple`).
pub fn arg_i(v: i64) -> PyResult<i32> {
    if v > i64::from(i32::MAX) {
        Err(overflow_error("signed integer is greater than maximum"))
    } else if v < i64::from(i32::MIN) {
        Err(overflow_error("signed integer is less than minimum"))
    } else {
        Ok(v as i32)
    }
}

/// `_PyLong_AsInt`: the argument clinic's `int` converter.
pub fn as_int(v: i64) -> PyResult<i32> {
    i32::try_from(v).map_err(|_| overflow_error("Python int too large to convert to C int"))
}

/// `PyLong_AsSocket_t` on Linux: `(SOCKET_T)PyLong_AsLong(v)` with
/// `SOCKET_T == int`, a silent truncation (`socket(fileno=2**32 + 3)` is fd 3,
/// `fileno=2**31` is negative).
pub fn as_socket_t(v: i64) -> i32 {
    v as i32
}

/// `PyArg_ParseTuple`'s `"I"` format: `PyLong_AsUnsignedLongMask`, "without
/// overflow checking" (`-1` is `0xffffffff`, `2**32` is 0).
pub fn arg_uint_mask(v: i64) -> u32 {
    v as u32
}

/// `type(v).__name__` for a value of the interface.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::None => "NoneType",
        Value::Boolean(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::Bytes(_) => "bytes",
    }
}

/// `_PyNumber_Index`'s `TypeError`: `'float' object cannot be interpreted as an integer`.
pub fn not_an_integer(v: &Value) -> Error {
    type_error(format!(
        "'{}' object cannot be interpreted as an integer",
        type_name(v)
    ))
}

/// `PyLong_AsLong(v)`: bool and int are ints (a bool is an int subclass);
/// anything else is the `__index__` `TypeError` (3.10+ no longer falls back to
/// `__int__`, so a float is refused too).
pub fn as_long(v: &Value) -> PyResult<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Boolean(b) => Ok(i64::from(*b)),
        other => Err(not_an_integer(other)),
    }
}

/// The argument-conversion `TypeError` of `PyArg_ParseTuple` (`converterr`):
/// `setsockopt() argument 3 must be int, not bytes`. `None` is spelled
/// `None` there, not `NoneType`.
pub fn must_be(func: &str, argnum: usize, expected: &str, v: &Value) -> Error {
    let got = match v {
        Value::None => "None",
        other => type_name(other),
    };
    type_error(format!(
        "{func}() argument {argnum} must be {expected}, not {got}"
    ))
}

/// A native-endian C int read from the bytes `getsockopt` wrote into a
/// zeroed `int` (CPython's `int flag = 0`): short results keep the zero
/// padding. WebAssembly is little-endian, and so are the hosts nativesock
/// runs on (x86-64, aarch64).
pub fn c_int_from_ne(bytes: &[u8]) -> i32 {
    let mut buf = [0u8; 4];
    let n = bytes.len().min(4);
    buf[..n].copy_from_slice(&bytes[..n]);
    i32::from_le_bytes(buf)
}

/// The same for a `uint64_t` (`AF_VSOCK` options).
pub fn u64_from_ne(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_i_messages_match_getargs() {
        assert_eq!(arg_i(5).unwrap(), 5);
        assert_eq!(arg_i(i64::from(i32::MAX)).unwrap(), i32::MAX);
        assert_eq!(arg_i(i64::from(i32::MIN)).unwrap(), i32::MIN);
        let e = arg_i(1 << 31).unwrap_err();
        assert_eq!(
            (e.exception.as_str(), e.message.as_str()),
            ("OverflowError", "signed integer is greater than maximum")
        );
        let e = arg_i(-(1 << 31) - 1).unwrap_err();
        assert_eq!(e.message, "signed integer is less than minimum");
    }

    #[test]
    fn as_int_message_is_the_same_both_ways() {
        for v in [1i64 << 31, -(1 << 31) - 1, i64::MAX, i64::MIN] {
            let e = as_int(v).unwrap_err();
            assert_eq!(e.exception, "OverflowError");
            assert_eq!(e.message, "Python int too large to convert to C int");
            assert_eq!(e.errno, None);
        }
        assert_eq!(as_int(-1).unwrap(), -1);
    }

    #[test]
    fn socket_t_and_mask_truncate() {
        assert_eq!(as_socket_t((1 << 32) + 3), 3);
        assert_eq!(as_socket_t(1 << 31), i32::MIN);
        assert_eq!(arg_uint_mask(-1), u32::MAX);
        assert_eq!(arg_uint_mask(1 << 32), 0);
    }

    #[test]
    fn as_long_accepts_only_ints() {
        assert_eq!(as_long(&Value::Boolean(true)).unwrap(), 1);
        assert_eq!(as_long(&Value::Int(-7)).unwrap(), -7);
        let msg = |v: Value| as_long(&v).unwrap_err().message;
        assert_eq!(
            msg(Value::Float(1.5)),
            "'float' object cannot be interpreted as an integer"
        );
        assert_eq!(
            msg(Value::Str("x".into())),
            "'str' object cannot be interpreted as an integer"
        );
        assert_eq!(
            msg(Value::None),
            "'NoneType' object cannot be interpreted as an integer"
        );
        assert_eq!(
            msg(Value::Bytes(vec![])),
            "'bytes' object cannot be interpreted as an integer"
        );
    }

    #[test]
    fn must_be_spells_none() {
        assert_eq!(
            must_be("setsockopt", 3, "int", &Value::None).message,
            "setsockopt() argument 3 must be int, not None"
        );
        assert_eq!(
            must_be("setsockopt", 3, "int", &Value::Bytes(vec![1])).message,
            "setsockopt() argument 3 must be int, not bytes"
        );
    }

    #[test]
    fn ne_ints_are_zero_padded() {
        assert_eq!(c_int_from_ne(&[1]), 1);
        assert_eq!(c_int_from_ne(&[0x6f, 0, 0, 0]), 111);
        assert_eq!(c_int_from_ne(&[0xff, 0xff, 0xff, 0xff]), -1);
        assert_eq!(c_int_from_ne(&[]), 0);
        assert_eq!(u64_from_ne(&[1, 0, 0, 0]), 1);
    }
}
