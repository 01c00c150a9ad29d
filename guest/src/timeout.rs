//! Socket timeouts as CPython keeps them: `_PyTime_t` nanoseconds, negative
//! for "no timeout" (`None`), parsed by `socket_parse_timeout`
//! (`socketmodule.c`) on top of `_PyTime_FromSecondsObject`
//! (`Python/pytime.c`), with every one of their error messages.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::bindings::exports::nativesock::socket::socket::Value;
use crate::conv;
use crate::error::{PyResult, overflow_error, value_error};

/// Nanoseconds per second (`SEC_TO_NS`).
pub const SEC_TO_NS: i64 = 1_000_000_000;

/// `_PyTime_FromSeconds(-1)`: how CPython stores `None` (blocking mode).
/// Any negative value means `None`; this is the one CPython writes.
pub const NONE: i64 = -SEC_TO_NS;

/// The module's `defaulttimeout` (`socket.setdefaulttimeout`), initially `None`.
/// Components are single-threaded; the atomic only avoids `static mut`.
static DEFAULT_TIMEOUT: AtomicI64 = AtomicI64::new(NONE);

/// `defaulttimeout`, in ns (negative for `None`).
pub fn default_timeout() -> i64 {
    DEFAULT_TIMEOUT.load(Ordering::Relaxed)
}

/// `socket.setdefaulttimeout(value)`: parsed exactly like `settimeout`.
pub fn set_default_timeout(value: &Value) -> PyResult<()> {
    let ns = parse(value)?;
    DEFAULT_TIMEOUT.store(ns, Ordering::Relaxed);
    Ok(())
}

/// `socket_parse_timeout`: `None` is [`NONE`]; a number goes through
/// `_PyTime_FromSecondsObject(..., _PyTime_ROUND_TIMEOUT)` and must then not
/// be negative.
///
/// Why the surprising results (all observed on 3.11.7):
/// - the range check comes *after* rounding, and `_PyTime_ROUND_TIMEOUT` is
///   `ROUND_UP` (away from zero), so `1e-10` becomes 1 ns (`1e-09`) but
///   `-1e-10` becomes -1 ns and is `ValueError("Timeout value out of range")`,
///   while `-0.0` is accepted as `0.0`;
/// - a float is converted in double precision and range-checked against
///   `_PyTime_t`, with the *`time_t`* message (`1e300`, `inf`, `-1e300`);
/// - an int is multiplied by 10**9 with an overflow check, with the
///   *`_PyTime_t`* message (`10**10`, `-10**10`);
/// - anything else fails in `PyLong_AsLongLong` (`__index__`), so a str is
///   `'str' object cannot be interpreted as an integer`.
pub fn parse(value: &Value) -> PyResult<i64> {
    if let Value::None = value {
        return Ok(NONE);
    }
    let ns = from_object(value, SEC_TO_NS)?;
    if ns < 0 {
        return Err(value_error("Timeout value out of range"));
    }
    Ok(ns)
}

/// Nanoseconds per millisecond (`MS_TO_NS`).
pub const MS_TO_NS: i64 = 1_000_000;

/// `_PyTime_FromObject(obj, _PyTime_ROUND_TIMEOUT, unit_to_ns)` (under
/// `_PyTime_FromSecondsObject` and `_PyTime_FromMillisecondsObject`): a
/// float or an int in units of `unit_to_ns` nanoseconds, negative values
/// included.
pub fn from_object(value: &Value, unit_to_ns: i64) -> PyResult<i64> {
    match value {
        Value::Float(d) => from_double(*d, unit_to_ns),
        Value::Int(i) => from_int(*i, unit_to_ns),
        Value::Boolean(b) => from_int(i64::from(*b), unit_to_ns),
        Value::BigInt(_) => match conv::index(value)? {
            conv::PyInt::Long(i) => from_int(i, unit_to_ns),
            conv::PyInt::Big { .. } => Err(too_large()),
        },
        other => Err(conv::not_an_integer(other)),
    }
}

/// `_PyTime_FromObject` for a float: NaN check, `d * unit`, `ROUND_UP`, then
/// `_Py_InIntegralTypeRange(_PyTime_t, d)`.
fn from_double(units: f64, unit_to_ns: i64) -> PyResult<i64> {
    if units.is_nan() {
        return Err(value_error("Invalid value NaN (not a number)"));
    }
    let d = units * unit_to_ns as f64;
    // _PyTime_ROUND_UP: away from zero.
    let d = if d >= 0.0 { d.ceil() } else { d.floor() };
    // 2**63 itself is out of range (observed: settimeout(9_223_372_036.854_776)
    // raises), -2**63 is in range (and then "Timeout value out of range").
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&d) {
        return Err(overflow_error("timestamp out of range for platform time_t"));
    }
    Ok(d as i64)
}

/// `_PyTime_FromObject` for an int: `units * unit_to_ns` with overflow check.
fn from_int(units: i64, unit_to_ns: i64) -> PyResult<i64> {
    units.checked_mul(unit_to_ns).ok_or_else(too_large)
}

fn too_large() -> crate::bindings::exports::nativesock::socket::socket::Error {
    overflow_error("timestamp too large to convert to C _PyTime_t")
}

/// `gettimeout()`: `None` when negative, else `_PyTime_AsSecondsDouble`,
/// which divides in integers when the value is a whole number of seconds
/// ("1e-9 cannot be stored exactly in IEEE 64-bit").
pub fn to_seconds(ns: i64) -> Option<f64> {
    if ns < 0 {
        return None;
    }
    Some(if ns % SEC_TO_NS == 0 {
        (ns / SEC_TO_NS) as f64
    } else {
        ns as f64 / 1e9
    })
}

/// `_PyTime_AsMilliseconds(interval, _PyTime_ROUND_CEILING)` as
/// `internal_select` (`Modules/socketmodule.c`) passes it to `poll()`: 1 ns
/// waits 1 ms.
/// A negative interval (blocking mode) is -1, "wait for ever".
///
/// 3.11 only `assert`s that the result fits a C int; `main` clamps to
/// `INT_MAX`, which is what this does (a timeout above 24.8 days then polls
/// in 24.8-day steps instead of wrapping around).
pub fn poll_ms(interval_ns: i64) -> i32 {
    if interval_ns < 0 {
        return -1;
    }
    let ms = interval_ns / 1_000_000 + i64::from(interval_ns % 1_000_000 != 0);
    i32::try_from(ms).unwrap_or(i32::MAX)
}

/// `_PyTime_AsMilliseconds(ns, _PyTime_ROUND_TIMEOUT)`: `ROUND_UP`, away
/// from zero (`-1` ns is `-1` ms).
pub fn as_ms_round_up(ns: i64) -> i64 {
    let ms = ns / MS_TO_NS;
    match ns % MS_TO_NS {
        0 => ms,
        r if r > 0 => ms + 1,
        _ => ms - 1,
    }
}

/// `_PyDeadline_Init(timeout)`: `now + timeout`, saturating like `_PyTime_Add`.
pub fn deadline(now: i64, timeout: i64) -> i64 {
    now.saturating_add(timeout)
}

/// `_PyDeadline_Get(deadline)`: the time left, negative once passed.
pub fn remaining(deadline: i64, now: i64) -> i64 {
    deadline.saturating_sub(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(v: Value) -> (String, String) {
        let e = parse(&v).unwrap_err();
        assert_eq!(e.errno, None);
        (e.exception, e.message)
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn none_is_minus_one_second() {
        assert_eq!(parse(&Value::None).unwrap(), -1_000_000_000);
        assert_eq!(to_seconds(NONE), None);
    }

    #[test]
    fn numbers_round_up_to_nanoseconds() {
        assert_eq!(parse(&Value::Float(2.5)).unwrap(), 2_500_000_000);
        assert_eq!(parse(&Value::Float(1e-10)).unwrap(), 1);
        assert_eq!(to_seconds(1), Some(1e-9));
        assert_eq!(parse(&Value::Int(0)).unwrap(), 0);
        assert_eq!(parse(&Value::Float(-0.0)).unwrap(), 0);
        assert_eq!(parse(&Value::Boolean(true)).unwrap(), 1_000_000_000);
        assert_eq!(to_seconds(1_000_000_000), Some(1.0));
        assert_eq!(to_seconds(0), Some(0.0));
        assert_eq!(to_seconds(parse(&Value::Float(0.1)).unwrap()), Some(0.1));
        // settimeout(9223372036.854775) -> gettimeout() 9223372036.854774 (observed)
        assert_eq!(
            to_seconds(parse(&Value::Float(9223372036.854775)).unwrap()),
            Some(9223372036.854774)
        );
        assert_eq!(
            parse(&Value::Int(9223372036)).unwrap(),
            9223372036 * SEC_TO_NS
        );
    }

    #[test]
    fn errors_match_cpython() {
        assert_eq!(
            err(Value::Int(-1)),
            pair("ValueError", "Timeout value out of range")
        );
        assert_eq!(
            err(Value::Float(-1e-10)),
            pair("ValueError", "Timeout value out of range")
        );
        assert_eq!(
            err(Value::Float(-1e-9)),
            pair("ValueError", "Timeout value out of range")
        );
        assert_eq!(
            err(Value::Float(f64::NAN)),
            pair("ValueError", "Invalid value NaN (not a number)")
        );
        for v in [
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9_223_372_036.854_776,
        ] {
            assert_eq!(
                err(Value::Float(v)),
                pair(
                    "OverflowError",
                    "timestamp out of range for platform time_t"
                )
            );
        }
        assert_eq!(
            err(Value::Float(-9_223_372_036.854_776)),
            pair("ValueError", "Timeout value out of range")
        );
        for v in [
            10_000_000_000i64,
            9223372037,
            -10_000_000_000,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(
                err(Value::Int(v)),
                pair(
                    "OverflowError",
                    "timestamp too large to convert to C _PyTime_t"
                )
            );
        }
        assert_eq!(
            err(Value::Str("x".into())),
            pair(
                "TypeError",
                "'str' object cannot be interpreted as an integer"
            )
        );
        assert_eq!(
            err(Value::Bytes(b"x".to_vec())),
            pair(
                "TypeError",
                "'bytes' object cannot be interpreted as an integer"
            )
        );
    }

    #[test]
    fn poll_ms_is_the_ceiling() {
        assert_eq!(poll_ms(0), 0);
        assert_eq!(poll_ms(1), 1);
        assert_eq!(poll_ms(999_999), 1);
        assert_eq!(poll_ms(1_000_000), 1);
        assert_eq!(poll_ms(1_000_001), 2);
        assert_eq!(poll_ms(2_000_000_000), 2000);
        assert_eq!(poll_ms(NONE), -1);
        assert_eq!(poll_ms(-1), -1);
        assert_eq!(poll_ms(i64::MAX), i32::MAX);
    }

    #[test]
    fn milliseconds_round_away_from_zero() {
        assert_eq!(from_object(&Value::Float(0.5), MS_TO_NS).unwrap(), 500_000);
        assert_eq!(from_object(&Value::Int(-3), MS_TO_NS).unwrap(), -3_000_000);
        assert_eq!(as_ms_round_up(500_000), 1);
        assert_eq!(as_ms_round_up(-1), -1);
        assert_eq!(as_ms_round_up(-2_000_000), -2);
        assert_eq!(as_ms_round_up(0), 0);
    }

    #[test]
    fn deadlines_saturate() {
        assert_eq!(deadline(10, 5), 15);
        assert_eq!(deadline(10, i64::MAX), i64::MAX);
        assert_eq!(remaining(15, 12), 3);
        assert_eq!(remaining(15, 20), -5);
    }
}
