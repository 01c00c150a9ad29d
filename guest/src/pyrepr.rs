//! `repr()` and `str()` of the Python values a socket's `__repr__` prints,
//! and `socket.py`'s `socket.__repr__` itself (3.11, `Lib/socket.py`
//! L243-271).

use std::fmt::Write;

use crate::bindings::exports::nativesock::socket::socket::{Address, Value};

/// What `socket.__repr__` needs to know about a socket.
pub struct ReprInfo {
    /// `getattr(self, '_closed', False)`.
    pub closed: bool,
    /// `self.fileno()`.
    pub fd: i32,
    /// `self.family`, `self.type`, `self.proto`: 3.11 prints the IntEnum
    /// members with `%s`, which gives the plain int.
    pub family: i32,
    pub kind: i32,
    pub proto: i32,
    /// `self.getsockname()`, `None` when it raised (`except error: pass`).
    pub laddr: Option<Address>,
    /// `self.getpeername()`, likewise.
    pub raddr: Option<Address>,
}

/// `socket.socket.__repr__`:
/// `<socket.socket fd=3, family=2, type=1, proto=0, laddr=('127.0.0.1', 5000)>`,
/// `<socket.socket [closed] fd=-1, family=2, type=1, proto=0>`.
/// An address is shown only when truthy (an unbound AF_UNIX socket's `''`
/// is not), with `str()` (so an AF_UNIX path appears unquoted).
pub fn socket_repr(info: &ReprInfo) -> String {
    let mut s = format!(
        "<socket.socket{} fd={}, family={}, type={}, proto={}",
        if info.closed { " [closed]" } else { "" },
        info.fd,
        info.family,
        info.kind,
        info.proto
    );
    if !info.closed {
        for (label, addr) in [("laddr", &info.laddr), ("raddr", &info.raddr)] {
            if let Some(a) = addr
                && address_truthy(a)
            {
                let _ = write!(s, ", {label}={}", address_str(a));
            }
        }
    }
    s.push('>');
    s
}

/// `bool(value)`.
pub fn value_truthy(v: &Value) -> bool {
    match v {
        Value::None => false,
        Value::Boolean(b) => *b,
        Value::Int(i) => *i != 0,
        // A big-int is never 0 (a binding sends one only outside `s64`),
        // and another object is true, as `object.__bool__` is, unless the
        // binding said otherwise by converting it.
        Value::BigInt(digits) => digits.bytes().any(|b| (b'1'..=b'9').contains(&b)),
        Value::Object(_) => true,
        Value::Float(f) => *f != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
    }
}

/// `bool(address)`.
pub fn address_truthy(a: &Address) -> bool {
    match a {
        Address::Tuple(items) | Address::List(items) => !items.is_empty(),
        Address::Inet(_) => true,
        Address::Scalar(v) => value_truthy(v),
    }
}

/// `str(address)`: a tuple or list shows its items' `repr`, a scalar its `str`.
pub fn address_str(a: &Address) -> String {
    match &*crate::addr::as_python(a) {
        Address::Tuple(items) => {
            let parts: Vec<String> = items.iter().map(value_repr).collect();
            if parts.len() == 1 {
                format!("({},)", parts[0])
            } else {
                format!("({})", parts.join(", "))
            }
        }
        Address::List(items) => {
            let parts: Vec<String> = items.iter().map(value_repr).collect();
            format!("[{}]", parts.join(", "))
        }
        Address::Scalar(v) => value_str(v),
        Address::Inet(_) => unreachable!("as_python returns no inet address"),
    }
}

/// `str(value)`.
pub fn value_str(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => value_repr(other),
    }
}

/// `repr(value)`.
pub fn value_repr(v: &Value) -> String {
    match v {
        Value::None => "None".to_string(),
        Value::Boolean(true) => "True".to_string(),
        Value::Boolean(false) => "False".to_string(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(digits) => big_int_repr(digits),
        Value::Object(type_name) => format!("<{type_name} object>"),
        Value::Float(f) => float_repr(*f),
        Value::Str(s) => str_repr(s),
        Value::Bytes(b) => bytes_repr(b),
    }
}

/// The quote `repr` picks: `'` unless the text has `'` and no `"`.
fn quote_for(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double { '"' } else { '\'' }
}

/// `repr(str)` (`unicode_repr`). Printability of non-ASCII characters is
/// approximated with the ranges that matter in practice (C1 controls,
/// Unicode spaces and format characters, private use); CPython consults the
/// full Unicode database.
/// `repr()` of an int written in decimal by a binding: no `+`, no leading zeros.
fn big_int_repr(digits: &str) -> String {
    let (negative, rest) = crate::conv::sign_and_digits(digits);
    let sign = if negative { "-" } else { "" };
    let rest = rest.trim_start_matches('0');
    if rest.is_empty() {
        "0".into()
    } else {
        format!("{sign}{rest}")
    }
}

pub fn str_repr(s: &str) -> String {
    let quote = quote_for(s.contains('\''), s.contains('"'));
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (' '..'\x7f').contains(&c) => out.push(c),
            c if !c.is_ascii() && is_printable(c) => out.push(c),
            c => {
                let n = c as u32;
                let _ = if n <= 0xff {
                    write!(out, "\\x{n:02x}")
                } else if n <= 0xffff {
                    write!(out, "\\u{n:04x}")
                } else {
                    write!(out, "\\U{n:08x}")
                };
            }
        }
    }
    out.push(quote);
    out
}

/// An approximation of `Py_UNICODE_ISPRINTABLE` for non-ASCII characters:
/// false for `Cc`, `Cf`, `Zs`, `Zl`, `Zp` and `Co` characters in the ranges
/// below, true otherwise.
fn is_printable(c: char) -> bool {
    !matches!(c as u32,
        0x80..=0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x1680
        | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x206f
        | 0x3000 | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb
        | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..)
}

/// `repr(bytes)`.
pub fn bytes_repr(b: &[u8]) -> String {
    let quote = quote_for(b.contains(&b'\''), b.contains(&b'"')) as u8;
    let mut out = String::with_capacity(b.len() + 3);
    out.push('b');
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(quote as char);
    out
}

/// `repr(float)`: the shortest round-tripping digits, in exponent form when
/// the decimal exponent is below -4 or above 15 (`1e-05`, `1e+16`).
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // `{:e}` gives the shortest round-tripping digits: "1.2345e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let decpt = exp + 1;
    if !(-3..=16).contains(&decpt) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(host: &str, port: i64) -> Address {
        Address::Tuple(vec![Value::Str(host.into()), Value::Int(port)])
    }

    #[test]
    fn repr_of_an_open_bound_socket() {
        let info = ReprInfo {
            closed: false,
            fd: 3,
            family: 2,
            kind: 1,
            proto: 0,
            laddr: Some(inet("127.0.0.1", 5000)),
            raddr: None,
        };
        assert_eq!(
            socket_repr(&info),
            "<socket.socket fd=3, family=2, type=1, proto=0, laddr=('127.0.0.1', 5000)>"
        );
    }

    #[test]
    fn repr_shows_only_truthy_addresses() {
        let info = ReprInfo {
            closed: false,
            fd: 3,
            family: 2,
            kind: 1,
            proto: 6,
            laddr: Some(inet("0.0.0.0", 0)),
            raddr: Some(inet("127.0.0.1", 80)),
        };
        assert_eq!(
            socket_repr(&info),
            "<socket.socket fd=3, family=2, type=1, proto=6, laddr=('0.0.0.0', 0), raddr=('127.0.0.1', 80)>"
        );
        let unix = ReprInfo {
            closed: false,
            fd: 4,
            family: 1,
            kind: 1,
            proto: 0,
            laddr: Some(Address::Scalar(Value::Str(String::new()))),
            raddr: Some(Address::Scalar(Value::Str("/tmp/x'y\"z.sock".into()))),
        };
        assert_eq!(
            socket_repr(&unix),
            "<socket.socket fd=4, family=1, type=1, proto=0, raddr=/tmp/x'y\"z.sock>"
        );
    }

    #[test]
    fn repr_of_a_closed_socket() {
        let info = ReprInfo {
            closed: true,
            fd: -1,
            family: 999,
            kind: 1,
            proto: 23,
            laddr: Some(inet("127.0.0.1", 1)),
            raddr: None,
        };
        assert_eq!(
            socket_repr(&info),
            "<socket.socket [closed] fd=-1, family=999, type=1, proto=23>"
        );
    }

    #[test]
    fn ipv6_and_abstract_addresses() {
        let v6 = Address::Tuple(vec![
            Value::Str("::".into()),
            Value::Int(0),
            Value::Int(0),
            Value::Int(0),
        ]);
        assert_eq!(address_str(&v6), "('::', 0, 0, 0)");
        let abs = Address::Scalar(Value::Bytes(b"\0abc\x01'".to_vec()));
        assert_eq!(address_str(&abs), "b\"\\x00abc\\x01'\"");
        assert_eq!(address_str(&Address::Tuple(vec![Value::Int(1)])), "(1,)");
    }

    #[test]
    fn big_ints_repr_as_python_prints_them() {
        let r = |d: &str| value_repr(&Value::BigInt(d.into()));
        assert_eq!(r("18446744073709551616"), "18446744073709551616");
        assert_eq!(r("-18446744073709551616"), "-18446744073709551616");
        assert_eq!(r("+00012"), "12");
        assert_eq!(r("-000"), "0");
    }

    #[test]
    fn str_repr_escapes_like_python() {
        assert_eq!(str_repr("abc"), "'abc'");
        assert_eq!(str_repr("a'b"), "\"a'b\"");
        assert_eq!(str_repr("a'b\""), "'a\\'b\"'");
        assert_eq!(str_repr("t\tn\nr\r\\"), "'t\\tn\\nr\\r\\\\'");
        assert_eq!(str_repr("\0\x7f"), "'\\x00\\x7f'");
        assert_eq!(str_repr("é\u{a0}x\u{200b}"), "'é\\xa0x\\u200b'");
        assert_eq!(str_repr("\u{f0000}"), "'\\U000f0000'");
    }

    #[test]
    fn bytes_repr_escapes_like_python() {
        assert_eq!(bytes_repr(b""), "b''");
        assert_eq!(bytes_repr(b"hi\xff"), "b'hi\\xff'");
        assert_eq!(bytes_repr(b"'"), "b\"'\"");
        assert_eq!(bytes_repr(b"'\""), "b'\\'\"'");
    }

    #[test]
    fn float_repr_like_python() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(2.5), "2.5");
        assert_eq!(float_repr(1e-9), "1e-09");
        assert_eq!(float_repr(1e-5), "1e-05");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(1.5e300), "1.5e+300");
        assert_eq!(float_repr(-0.0), "-0.0");
        assert_eq!(float_repr(f64::NAN), "nan");
    }

    #[test]
    fn truthiness() {
        assert!(!value_truthy(&Value::None));
        assert!(!value_truthy(&Value::Str(String::new())));
        assert!(!address_truthy(&Address::Scalar(Value::Bytes(vec![]))));
        assert!(address_truthy(&Address::Tuple(vec![Value::Int(0)])));
    }
}
