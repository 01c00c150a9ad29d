//! Python int conversions, with CPython's exact overflow and type errors.
//!
//! Every int argument of the exported interface is a `value`: an `int`
//! inside `s64`, a `big-int` of any size, or whatever else the program
//! passed. `index` is `__index__` (an int or a bool, anything else the
//! `TypeError` that names its type); the converters then narrow to the C
//! type CPython converts that argument to, with its messages. CPython 3.11
//! uses these, and they word their errors differently (observed with
//! 3.11.7, `2**63` for "too large for a C long"):
//!
//! | converter | used by | past a C long | past the C type |
//! |---|---|---|---|
//! | `PyArg_ParseTuple` `"i"` | `listen`, `send`/`recv` flags, `getsockopt`, `setsockopt`, `socketpair`, `getaddrinfo`, ports | `Python int too large to convert to C long` | `signed integer is greater than maximum` / `... less than minimum` |
//! | `_PyLong_AsInt` (argument clinic `int`) | `socket.__init__`, `shutdown` | `Python int too large to convert to C int` | the same |
//! | `PyLong_AsSocket_t` = `(int)PyLong_AsLong` | `fileno=`, `socket.close(fd)`, `socket.dup(fd)` | `... C long` | none: truncated to 32 bits |
//! | `"n"` (`Py_ssize_t`) | `recv` sizes, `nbytes`, `ancbufsize` | `Python int too large to convert to C ssize_t` | (a C long is a `Py_ssize_t`) |
//! | `"I"` / `"K"` (`PyLong_AsUnsignedLong[Long]Mask`) | `flowinfo`, `scope_id`, `optlen`, `AF_VSOCK` values | none: the value modulo 2**32 / 2**64 | none |

use crate::bindings::exports::nativesock::socket::socket::{Error, Value};
use crate::error::{PyResult, overflow_error, type_error, value_error};

/// An int argument, after `__index__`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PyInt {
    /// One that fits a C long (64 bits on the hosts nativesock runs on).
    Long(i64),
    /// One that does not: its value modulo 2**64 (two's complement), which
    /// is all that the masking converters keep.
    Big { low: u64 },
}

impl PyInt {
    /// The value modulo 2**64, as `PyLong_AsUnsignedLongLongMask` gives it.
    pub fn mask64(self) -> u64 {
        match self {
            PyInt::Long(i) => i as u64,
            PyInt::Big { low } => low,
        }
    }
}

/// `operator.index(v)`: an int or a bool (an int subclass); anything else is
/// `'float' object cannot be interpreted as an integer` (3.10+ no longer
/// falls back to `__int__`, so a float is refused too).
pub fn index(v: &Value) -> PyResult<PyInt> {
    match v {
        Value::Int(i) => Ok(PyInt::Long(*i)),
        Value::Boolean(b) => Ok(PyInt::Long(i64::from(*b))),
        Value::BigInt(digits) => parse_decimal(digits),
        other => Err(not_an_integer(other)),
    }
}

/// A `big-int`'s sign (true for `-`) and its digits: `-12` is `(true, "12")`,
/// `+12` and `12` are `(false, "12")`.
pub fn sign_and_digits(text: &str) -> (bool, &str) {
    match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    }
}

/// A `big-int` as a binding writes it: an optional sign and decimal digits.
/// Anything else is the binding's mistake, reported as `int()` would.
fn parse_decimal(text: &str) -> PyResult<PyInt> {
    let (negative, digits) = sign_and_digits(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(value_error(format!(
            "invalid literal for int() with base 10: {}",
            crate::pyrepr::str_repr(text)
        )));
    }
    let mut low: u64 = 0;
    let mut exact: Option<u128> = Some(0);
    for b in digits.bytes() {
        let d = u64::from(b - b'0');
        low = low.wrapping_mul(10).wrapping_add(d);
        exact = exact.and_then(|e| e.checked_mul(10)?.checked_add(u128::from(d)));
    }
    let small = exact.and_then(|m| {
        let m = i128::try_from(m).ok()?;
        i64::try_from(if negative { -m } else { m }).ok()
    });
    Ok(match small {
        Some(i) => PyInt::Long(i),
        None => PyInt::Big {
            low: if negative { low.wrapping_neg() } else { low },
        },
    })
}

/// `PyLong_AsLong`: the C long, or `OverflowError` past it.
pub fn as_long(v: &Value) -> PyResult<i64> {
    match index(v)? {
        PyInt::Long(i) => Ok(i),
        PyInt::Big { .. } => Err(overflow_error("Python int too large to convert to C long")),
    }
}

/// `PyArg_ParseTuple`'s `"i"` format (`Python/getargs.c`, `convertsimple`):
/// `PyLong_AsLong`, then the C int range.
pub fn arg_i(v: &Value) -> PyResult<i32> {
    long_to_i(as_long(v)?)
}

/// `"i"` for a value already known to be a C long.
pub fn long_to_i(v: i64) -> PyResult<i32> {
    if v > i64::from(i32::MAX) {
        Err(overflow_error("signed integer is greater than maximum"))
    } else if v < i64::from(i32::MIN) {
        Err(overflow_error("signed integer is less than minimum"))
    } else {
        Ok(v as i32)
    }
}

/// `"i"` for an optional argument with CPython's default.
pub fn arg_i_or(v: Option<&Value>, default: i32) -> PyResult<i32> {
    v.map_or(Ok(default), arg_i)
}

/// `_PyLong_AsInt`: the argument clinic's `int` converter, one message for
/// every overflow.
pub fn as_int(v: &Value) -> PyResult<i32> {
    let too_large = || overflow_error("Python int too large to convert to C int");
    match index(v)? {
        PyInt::Long(i) => i32::try_from(i).map_err(|_| too_large()),
        PyInt::Big { .. } => Err(too_large()),
    }
}

/// `PyLong_AsSocket_t` on Linux: `(SOCKET_T)PyLong_AsLong(v)` with
/// `SOCKET_T == int`, a silent truncation of a C long (`socket(fileno=2**32
/// + 3)` is fd 3, `fileno=2**31` is negative).
pub fn as_socket_t(v: &Value) -> PyResult<i32> {
    Ok(as_long(v)? as i32)
}

/// `PyArg_ParseTuple`'s `"n"` format: a `Py_ssize_t`.
pub fn arg_n(v: &Value) -> PyResult<i64> {
    match index(v)? {
        PyInt::Long(i) => Ok(i),
        PyInt::Big { .. } => Err(overflow_error(
            "Python int too large to convert to C ssize_t",
        )),
    }
}

/// `PyArg_ParseTuple`'s `"I"` format: `PyLong_AsUnsignedLongMask`, "without
/// overflow checking" (`-1` is `0xffffffff`, `2**32` is 0), then cut to a C
/// unsigned int.
pub fn arg_uint_mask(v: &Value) -> PyResult<u32> {
    Ok(index(v)?.mask64() as u32)
}

/// `type(v).__name__` for a value of the interface.
pub fn type_name(v: &Value) -> &str {
    match v {
        Value::None => "NoneType",
        Value::Boolean(_) => "bool",
        Value::Int(_) | Value::BigInt(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::Bytes(_) => "bytes",
        Value::Object(name) => name,
    }
}

/// `_PyNumber_Index`'s `TypeError`: `'float' object cannot be interpreted as an integer`.
pub fn not_an_integer(v: &Value) -> Error {
    type_error(format!(
        "'{}' object cannot be interpreted as an integer",
        type_name(v)
    ))
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

    fn int(i: i64) -> Value {
        Value::Int(i)
    }

    fn big(s: &str) -> Value {
        Value::BigInt(s.into())
    }

    fn msg<T: std::fmt::Debug>(r: PyResult<T>) -> (String, String) {
        let e = r.unwrap_err();
        (e.exception, e.message)
    }

    fn overflow(m: &str) -> (String, String) {
        ("OverflowError".into(), m.into())
    }

    #[test]
    fn arg_i_messages_match_getargs() {
        assert_eq!(arg_i(&int(5)).unwrap(), 5);
        assert_eq!(arg_i(&int(i32::MAX.into())).unwrap(), i32::MAX);
        assert_eq!(arg_i(&int(i32::MIN.into())).unwrap(), i32::MIN);
        assert_eq!(arg_i(&Value::Boolean(true)).unwrap(), 1);
        let greater = overflow("signed integer is greater than maximum");
        assert_eq!(msg(arg_i(&int(1 << 31))), greater);
        assert_eq!(msg(arg_i(&int(i64::MAX))), greater);
        assert_eq!(
            msg(arg_i(&int(-(1 << 31) - 1))),
            overflow("signed integer is less than minimum")
        );
        let long = overflow("Python int too large to convert to C long");
        for b in [
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551621",
        ] {
            assert_eq!(msg(arg_i(&big(b))), long, "{b}");
        }
        // A big-int that fits is an int like any other.
        assert_eq!(arg_i(&big("-7")).unwrap(), -7);
        assert_eq!(arg_i(&big("+000012")).unwrap(), 12);
        assert_eq!(as_long(&big("-9223372036854775808")).unwrap(), i64::MIN);
    }

    #[test]
    fn as_int_message_is_the_same_both_ways() {
        for v in [
            int(1 << 31),
            int(-(1 << 31) - 1),
            int(i64::MAX),
            int(i64::MIN),
            big("-99999999999999999999999"),
        ] {
            let e = as_int(&v).unwrap_err();
            assert_eq!(e.exception, "OverflowError");
            assert_eq!(e.message, "Python int too large to convert to C int");
            assert_eq!(e.errno, None);
        }
        assert_eq!(as_int(&int(-1)).unwrap(), -1);
    }

    #[test]
    fn socket_t_truncates_a_long_and_ssize_t_has_its_own_message() {
        assert_eq!(as_socket_t(&int((1 << 32) + 3)).unwrap(), 3);
        assert_eq!(as_socket_t(&int(1 << 31)).unwrap(), i32::MIN);
        assert_eq!(
            msg(as_socket_t(&big("-9223372036854775809"))),
            overflow("Python int too large to convert to C long")
        );
        assert_eq!(arg_n(&int(i64::MAX)).unwrap(), i64::MAX);
        assert_eq!(
            msg(arg_n(&big("9223372036854775808"))),
            overflow("Python int too large to convert to C ssize_t")
        );
    }

    #[test]
    fn masks_keep_the_low_bits_of_any_int() {
        assert_eq!(arg_uint_mask(&int(-1)).unwrap(), u32::MAX);
        assert_eq!(arg_uint_mask(&int(1 << 32)).unwrap(), 0);
        // 2**64 + 5, 2**63, -2**63 - 1, -(2**64) - 5, 10**30.
        assert_eq!(arg_uint_mask(&big("18446744073709551621")).unwrap(), 5);
        assert_eq!(arg_uint_mask(&big("9223372036854775808")).unwrap(), 0);
        assert_eq!(
            arg_uint_mask(&big("-9223372036854775809")).unwrap(),
            u32::MAX
        );
        assert_eq!(
            index(&big("-18446744073709551621")).unwrap().mask64(),
            5u64.wrapping_neg()
        );
        assert_eq!(
            index(&big("1000000000000000000000000000000"))
                .unwrap()
                .mask64(),
            (10u128.pow(30) % (1u128 << 64)) as u64
        );
    }

    #[test]
    fn index_accepts_only_ints() {
        let msg = |v: Value| index(&v).unwrap_err().message;
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
        assert_eq!(
            msg(Value::Object("list".into())),
            "'list' object cannot be interpreted as an integer"
        );
        let e = index(&big("12a")).unwrap_err();
        assert_eq!(
            (e.exception.as_str(), e.message.as_str()),
            (
                "ValueError",
                "invalid literal for int() with base 10: '12a'"
            )
        );
        assert!(index(&big("-")).is_err());
        assert!(index(&big("")).is_err());
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
