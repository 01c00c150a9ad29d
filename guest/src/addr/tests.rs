//! Unit tests for `addr`: every message and rule that needs no host call,
//! as CPython 3.11.7 gives them on Linux. The name lookups are a fake that
//! answers like glibc; the inet_pton/inet_ntop and IDNA tables come from
//! CPython itself (`guest/tools/gen_addr_vectors.py`).

use super::*;
use crate::bindings::exports::nativesock::socket::socket::Error;

const F: Families = Families::LINUX;
const SUN: usize = LINUX_SUN_PATH_SIZE;

// --- helpers ---------------------------------------------------------------

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}
fn b(v: &[u8]) -> Value {
    Value::Bytes(v.to_vec())
}
fn i(v: i64) -> Value {
    Value::Int(v)
}
fn tuple(items: Vec<Value>) -> Address {
    Address::Tuple(items)
}

/// `repr()` of a value, as Python prints it (enough for these tests).
fn repr(v: &Value) -> String {
    match v {
        Value::None => "None".into(),
        Value::Boolean(true) => "True".into(),
        Value::Boolean(false) => "False".into(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(digits) => digits.clone(),
        Value::Object(name) => format!("<{name} object>"),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => format!("'{s}'"),
        Value::Bytes(bytes) => {
            let mut out = String::from("b'");
            for &c in bytes {
                if (0x20..0x7f).contains(&c) && c != b'\'' && c != b'\\' {
                    out.push(char::from(c));
                } else {
                    out.push_str(&format!("\\x{c:02x}"));
                }
            }
            out + "'"
        }
    }
}

fn repr_addr(a: &Address) -> String {
    match &*super::as_python(a) {
        Address::Tuple(items) => {
            let inner: Vec<String> = items.iter().map(repr).collect();
            format!("({})", inner.join(", "))
        }
        Address::List(items) => {
            let inner: Vec<String> = items.iter().map(repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Address::Scalar(v) => repr(v),
        Address::Inet(_) => unreachable!("as_python returns no inet address"),
    }
}

/// A native address, written the way the tests expect it.
fn show(sa: &Sockaddr) -> String {
    match sa {
        Sockaddr::Unspec => "unspec".into(),
        Sockaddr::Inet(a) => {
            let (b0, b1, b2, b3) = a.addr;
            format!("inet {b0}.{b1}.{b2}.{b3}:{}", a.port)
        }
        Sockaddr::Inet6(a) => {
            let (w0, w1, w2, w3, w4, w5, w6, w7) = a.addr;
            format!(
                "inet6 [{}]:{} flow={} scope={}",
                inet::ntop6([w0, w1, w2, w3, w4, w5, w6, w7]),
                a.port,
                a.flowinfo,
                a.scope_id
            )
        }
        Sockaddr::Unix(p) => format!("unix {}", repr(&Value::Bytes(p.clone()))),
        Sockaddr::Other((f, d)) => format!("other {f} {d:?}"),
    }
}

/// `type: str(exc)`, with the errno for the exceptions that have one.
fn exc(e: &Error) -> String {
    match e.errno {
        Some(n) => format!("{}({n}): {}", e.exception, e.message),
        None => format!("{}: {}", e.exception, e.message),
    }
}

fn outcome(r: PyResult<Sockaddr>) -> String {
    match r {
        Ok(sa) => show(&sa),
        Err(e) => exc(&e),
    }
}

/// A resolver that answers like glibc on a Linux host with a `lo`
/// interface and `localhost` in /etc/hosts, and records its calls.
#[derive(Default)]
struct Fake {
    calls: Vec<String>,
    /// What the wildcard lookup returns instead of the usual answer.
    wildcard_answer: Option<Vec<Sockaddr>>,
    /// What every lookup returns instead of the usual answer.
    lookup_answer: Option<Vec<Sockaddr>>,
}

fn gai(code: i32, msg: &str) -> Error {
    error::gaierror(code, msg.to_string())
}

impl Resolver for Fake {
    fn wildcard(&mut self, af: i32) -> PyResult<Vec<Sockaddr>> {
        self.calls.push(format!("wildcard af={af}"));
        if let Some(a) = &self.wildcard_answer {
            return Ok(a.clone());
        }
        match af {
            2 => Ok(vec![inet([0; 4])]),
            10 => Ok(vec![inet6([0; 8])]),
            0 => Ok(vec![inet([0; 4]), inet6([0; 8])]),
            _ => Err(gai(-6, "ai_family not supported")),
        }
    }

    fn lookup(&mut self, name: &str, af: i32) -> PyResult<Vec<Sockaddr>> {
        self.calls.push(format!("lookup {name:?} af={af}"));
        if let Some(a) = &self.lookup_answer {
            return Ok(a.clone());
        }
        let v4 = inet::pton4(name.as_bytes());
        let v6 = inet::pton6(name.split('%').next().unwrap_or("").as_bytes());
        let family_error = Err(gai(-9, "Address family for hostname not supported"));
        match (name, af) {
            ("localhost", 2) => Ok(vec![inet([127, 0, 0, 1])]),
            ("localhost", 10) => Ok(vec![inet6([0, 0, 0, 0, 0, 0, 0, 1])]),
            ("127.1", 2 | 0) => Ok(vec![inet([127, 0, 0, 1])]),
            ("fe80::1%lo", 10 | 0) => Ok(vec![Sockaddr::Inet6(Inet6Address {
                addr: (0xfe80, 0, 0, 0, 0, 0, 0, 1),
                port: 0,
                flowinfo: 0,
                scope_id: 1,
            })]),
            _ if v4.is_some() && af == 10 => family_error,
            _ if v6.is_some() && af == 2 => family_error,
            _ => Err(gai(-2, "Name or service not known")),
        }
    }

    fn eai_noname(&self) -> i32 {
        -2
    }
}

fn arg(family: i32, addr: &Address, caller: &str) -> String {
    arg_with(&mut Fake::default(), family, addr, caller)
}

fn arg_with(fake: &mut Fake, family: i32, addr: &Address, caller: &str) -> String {
    outcome(sockaddr_arg(F.kind(family), addr, caller, &F, SUN, fake))
}

// --- AF_INET ----------------------------------------------------------------

#[test]
fn inet_not_a_tuple() {
    let cases = [
        (Address::Scalar(Value::None), "NoneType"),
        (Address::Scalar(i(5)), "int"),
        (Address::Scalar(Value::Float(1.5)), "float"),
        (Address::Scalar(b(b"x")), "bytes"),
        (Address::Scalar(Value::Boolean(true)), "bool"),
        (Address::Scalar(s("127.0.0.1:80")), "str"),
        (Address::List(vec![s("127.0.0.1"), i(1)]), "list"),
    ];
    for caller in ["connect", "connect_ex", "bind", "sendto", "sendmsg"] {
        for (addr, ty) in &cases {
            assert_eq!(
                arg(2, addr, caller),
                format!("TypeError: {caller}(): AF_INET address must be tuple, not {ty}")
            );
        }
    }
}

#[test]
fn inet_arity() {
    for items in [
        vec![],
        vec![s("127.0.0.1")],
        vec![s("127.0.0.1"), i(1), i(0)],
        vec![s("127.0.0.1"), i(1), i(0), i(0)],
        // The arity is checked before any element is converted.
        vec![Value::None],
        vec![Value::None, s("x"), s("y")],
    ] {
        assert_eq!(
            arg(2, &tuple(items), "connect"),
            "TypeError: AF_INET address must be a pair (host, port)"
        );
    }
}

#[test]
fn inet_host_types() {
    for (host, ty) in [
        (Value::None, "NoneType"),
        (i(1), "int"),
        (Value::Float(1.5), "float"),
        (Value::Boolean(false), "bool"),
    ] {
        // The host is converted before the port (which is bad too here).
        assert_eq!(
            arg(2, &tuple(vec![host, s("x")]), "connect"),
            format!("TypeError: str, bytes or bytearray expected, not {ty}")
        );
    }
}

#[test]
fn inet_host_nul() {
    let msg = "TypeError: host name must not contain null character";
    assert_eq!(arg(2, &tuple(vec![s("bad\0host"), i(80)]), "connect"), msg);
    assert_eq!(arg(2, &tuple(vec![b(b"x\0"), i(1)]), "bind"), msg);
    // Before the port is looked at, even an overflowing one.
    assert_eq!(arg(2, &tuple(vec![s("x\0"), i(1 << 40)]), "bind"), msg);
    // A non-ASCII name is IDNA-encoded first; the NUL survives punycode.
    assert_eq!(arg(2, &tuple(vec![s("ä\0"), i(1)]), "bind"), msg);
}

#[test]
fn inet_host_idna() {
    let mut fake = Fake::default();
    let r = arg_with(
        &mut fake,
        2,
        &tuple(vec![s("bücher.example"), i(80)]),
        "connect",
    );
    assert_eq!(r, "gaierror(-2): [Errno -2] Name or service not known");
    assert_eq!(fake.calls, ["lookup \"xn--bcher-kva.example\" af=2"]);
    // A label that nameprep prohibits (U+E000, private use).
    assert_eq!(
        arg(2, &tuple(vec![s("a\u{e000}b"), i(80)]), "connect"),
        "TypeError: encoding of hostname failed"
    );
    // An empty label in a non-ASCII name fails; in an ASCII one it is
    // passed on as it is.
    assert_eq!(
        arg(2, &tuple(vec![s("ä..b"), i(80)]), "connect"),
        "TypeError: encoding of hostname failed"
    );
    let mut fake = Fake::default();
    arg_with(&mut fake, 2, &tuple(vec![s("a..b"), i(80)]), "connect");
    assert_eq!(fake.calls, ["lookup \"a..b\" af=2"]);
}

#[test]
fn inet_port_types() {
    for (port, ty) in [
        (s("80"), "str"),
        (Value::Float(1.0), "float"),
        (Value::None, "NoneType"),
        (b(b"1"), "bytes"),
    ] {
        assert_eq!(
            arg(2, &tuple(vec![s("127.0.0.1"), port]), "connect"),
            format!("TypeError: '{ty}' object cannot be interpreted as an integer")
        );
    }
    // bool is an int.
    assert_eq!(
        arg(
            2,
            &tuple(vec![s("127.0.0.1"), Value::Boolean(true)]),
            "bind"
        ),
        "inet 127.0.0.1:1"
    );
}

#[test]
fn inet_port_range() {
    for (port, caller) in [
        (70000, "connect"),
        (-1, "connect_ex"),
        (65536, "bind"),
        (-65536, "sendto"),
        (1 << 40, "connect"),
        (-(1 << 31) - 1, "connect"),
        (i64::MAX, "sendmsg"),
        (i64::MIN, "connect"),
    ] {
        assert_eq!(
            arg(2, &tuple(vec![s("127.0.0.1"), i(port)]), caller),
            format!("OverflowError: {caller}(): port must be 0-65535.")
        );
    }
    // Past a C long too (CPython 3.11.7: `connect(('127.0.0.1', 2**64))`).
    for port in ["18446744073709551616", "-9223372036854775809"] {
        let port = Value::BigInt(port.into());
        assert_eq!(
            arg(2, &tuple(vec![s("127.0.0.1"), port]), "connect"),
            "OverflowError: connect(): port must be 0-65535."
        );
    }
    assert_eq!(
        arg(
            2,
            &tuple(vec![s("127.0.0.1"), Value::Object("list".into())]),
            "connect"
        ),
        "TypeError: 'list' object cannot be interpreted as an integer"
    );
    assert_eq!(
        arg(2, &tuple(vec![s("127.0.0.1"), i(0)]), "bind"),
        "inet 127.0.0.1:0"
    );
    assert_eq!(
        arg(2, &tuple(vec![s("127.0.0.1"), i(65535)]), "bind"),
        "inet 127.0.0.1:65535"
    );
}

#[test]
fn inet_resolution_before_port_range() {
    // ('::1', 70000) on AF_INET: the lookup fails first.
    let mut fake = Fake::default();
    assert_eq!(
        arg_with(&mut fake, 2, &tuple(vec![s("::1"), i(70000)]), "connect"),
        "gaierror(-9): [Errno -9] Address family for hostname not supported"
    );
    assert_eq!(fake.calls, ["lookup \"::1\" af=2"]);
    // A port that does not fit a C int fails while parsing, before any lookup.
    let mut fake = Fake::default();
    assert_eq!(
        arg_with(&mut fake, 2, &tuple(vec![s("::1"), i(1 << 40)]), "connect"),
        "OverflowError: connect(): port must be 0-65535."
    );
    assert!(fake.calls.is_empty());
    // The broadcast address is resolved, then the port is checked.
    assert_eq!(
        arg(2, &tuple(vec![s("<broadcast>"), i(70000)]), "bind"),
        "OverflowError: bind(): port must be 0-65535."
    );
}

#[test]
fn inet_success() {
    let mut fake = Fake::default();
    let cases = [
        (s("127.0.0.1"), 80, "inet 127.0.0.1:80"),
        (b(b"127.0.0.1"), 0, "inet 127.0.0.1:0"),
        (s(""), 5, "inet 0.0.0.0:5"),
        (s("<broadcast>"), 7, "inet 255.255.255.255:7"),
        (s("255.255.255.255"), 7, "inet 255.255.255.255:7"),
        (s("localhost"), 80, "inet 127.0.0.1:80"),
        (s("127.1"), 80, "inet 127.0.0.1:80"),
    ];
    for (host, port, want) in cases {
        assert_eq!(
            arg_with(&mut fake, 2, &tuple(vec![host, i(port)]), "connect"),
            want
        );
    }
    // Numeric addresses and the special names are not looked up.
    assert_eq!(
        fake.calls,
        [
            "wildcard af=2",
            "lookup \"localhost\" af=2",
            "lookup \"127.1\" af=2"
        ]
    );
}

// --- AF_INET6 ---------------------------------------------------------------

#[test]
fn inet6_not_a_tuple() {
    for (addr, ty) in [
        (Address::Scalar(Value::None), "NoneType"),
        (Address::Scalar(s("x")), "str"),
        (Address::List(vec![s("::1"), i(1)]), "list"),
        (Address::Scalar(b(b"::1")), "bytes"),
    ] {
        assert_eq!(
            arg(10, &addr, "connect"),
            format!("TypeError: connect(): AF_INET6 address must be tuple, not {ty}")
        );
    }
}

#[test]
fn inet6_arity() {
    let msg = "TypeError: AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])";
    assert_eq!(arg(10, &tuple(vec![]), "connect"), msg);
    assert_eq!(arg(10, &tuple(vec![s("::1")]), "connect"), msg);
    assert_eq!(
        arg(
            10,
            &tuple(vec![s("::1"), i(1), i(2), i(3), i(4)]),
            "connect"
        ),
        msg
    );
    assert_eq!(
        arg(10, &tuple(vec![s("::1"), i(1)]), "connect"),
        "inet6 [::1]:1 flow=0 scope=0"
    );
    assert_eq!(
        arg(10, &tuple(vec![s("::1"), i(1), i(2)]), "connect"),
        "inet6 [::1]:1 flow=2 scope=0"
    );
    assert_eq!(
        arg(10, &tuple(vec![s("::1"), i(1), i(2), i(3)]), "connect"),
        "inet6 [::1]:1 flow=2 scope=3"
    );
}

#[test]
fn inet6_conversions() {
    let t = |items: Vec<Value>| arg(10, &tuple(items), "connect");
    // Type errors, in argument order.
    for (v, ty) in [
        (Value::Float(1.5), "float"),
        (s("x"), "str"),
        (Value::None, "NoneType"),
        (b(b"x"), "bytes"),
    ] {
        let msg = format!("TypeError: '{ty}' object cannot be interpreted as an integer");
        assert_eq!(t(vec![s("::1"), i(1), v.clone()]), msg);
        assert_eq!(t(vec![s("::1"), i(1), i(0), v.clone()]), msg);
        assert_eq!(t(vec![s("::1"), v.clone(), i(1 << 40)]), msg);
    }
    assert_eq!(
        t(vec![Value::None, s("x"), s("y")]),
        "TypeError: str, bytes or bytearray expected, not NoneType"
    );
    // A port overflow stops the parsing before flowinfo is converted.
    assert_eq!(
        t(vec![s("::1"), i(1 << 40), s("x")]),
        "OverflowError: connect(): port must be 0-65535."
    );
    // `I` masks: -1 is 0xffffffff, 2**32 wraps to 0.
    assert_eq!(
        t(vec![s("::1"), i(1), i(-1)]),
        "OverflowError: connect(): flowinfo must be 0-1048575."
    );
    assert_eq!(
        t(vec![s("::1"), i(1), i(1 << 32)]),
        "inet6 [::1]:1 flow=0 scope=0"
    );
    // Any size: 2**63 masks to 0, 2**64 + 5 to 5, -2**63 - 1 to 0xffffffff.
    let big = |d: &str| Value::BigInt(d.into());
    assert_eq!(
        t(vec![
            s("::1"),
            i(1),
            big("9223372036854775808"),
            big("18446744073709551621")
        ]),
        "inet6 [::1]:1 flow=0 scope=5"
    );
    assert_eq!(
        t(vec![s("::1"), i(1), big("-9223372036854775809")]),
        "OverflowError: connect(): flowinfo must be 0-1048575."
    );
    assert_eq!(
        t(vec![s("::1"), i(1), i(0x100000)]),
        "OverflowError: connect(): flowinfo must be 0-1048575."
    );
    assert_eq!(
        t(vec![s("::1"), i(1), i(0xfffff)]),
        "inet6 [::1]:1 flow=1048575 scope=0"
    );
    assert_eq!(
        t(vec![s("::1"), i(1), i(0), i(-1)]),
        "inet6 [::1]:1 flow=0 scope=4294967295"
    );
    assert_eq!(
        t(vec![
            s("::1"),
            i(1),
            Value::Boolean(true),
            Value::Boolean(true)
        ]),
        "inet6 [::1]:1 flow=1 scope=1"
    );
    // The port is checked before flowinfo.
    assert_eq!(
        t(vec![s("::1"), i(70000), i(0x100000)]),
        "OverflowError: connect(): port must be 0-65535."
    );
    assert_eq!(
        arg(10, &tuple(vec![s("::1"), i(-1)]), "bind"),
        "OverflowError: bind(): port must be 0-65535."
    );
}

#[test]
fn inet6_resolution() {
    let t = |items: Vec<Value>| arg(10, &tuple(items), "connect");
    assert_eq!(
        t(vec![s("127.0.0.1"), i(1)]),
        "gaierror(-9): [Errno -9] Address family for hostname not supported"
    );
    // ...and before the port range and flowinfo checks.
    assert_eq!(
        t(vec![s("127.0.0.1"), i(70000), i(0x100000)]),
        "gaierror(-9): [Errno -9] Address family for hostname not supported"
    );
    assert_eq!(
        t(vec![s("<broadcast>"), i(1)]),
        "OSError: address family mismatched"
    );
    assert_eq!(
        t(vec![s("255.255.255.255"), i(1)]),
        "OSError: address family mismatched"
    );
    assert_eq!(t(vec![s(""), i(0)]), "inet6 [::]:0 flow=0 scope=0");
    assert_eq!(
        t(vec![s("::ffff:1.2.3.4"), i(5)]),
        "inet6 [::ffff:1.2.3.4]:5 flow=0 scope=0"
    );
    assert_eq!(
        t(vec![s("FE80::ABCD"), i(5)]),
        "inet6 [fe80::abcd]:5 flow=0 scope=0"
    );
    // The tuple's scope id (default 0) replaces the one the lookup found.
    assert_eq!(
        t(vec![s("fe80::1%lo"), i(7)]),
        "inet6 [fe80::1]:7 flow=0 scope=0"
    );
    assert_eq!(
        t(vec![s("fe80::1%lo"), i(7), i(0), i(5)]),
        "inet6 [fe80::1]:7 flow=0 scope=5"
    );
    assert_eq!(
        t(vec![s("localhost"), i(7)]),
        "inet6 [::1]:7 flow=0 scope=0"
    );
}

// --- AF_UNIX ------------------------------------------------------------------

#[test]
fn unix_types() {
    for (addr, ty) in [
        (Address::Scalar(Value::None), "NoneType"),
        (Address::Scalar(i(5)), "int"),
        (Address::Scalar(Value::Float(1.5)), "float"),
        (Address::Scalar(Value::Boolean(true)), "bool"),
        (tuple(vec![s("a")]), "tuple"),
        (Address::List(vec![s("a")]), "list"),
    ] {
        assert_eq!(
            arg(1, &addr, "connect"),
            format!("TypeError: a bytes-like object is required, not '{ty}'")
        );
    }
}

#[test]
fn unix_lengths() {
    let t = |path: Vec<u8>| arg(1, &Address::Scalar(Value::Bytes(path)), "bind");
    let long = "OSError: AF_UNIX path too long";
    // A path needs room for its NUL: at most 107 bytes.
    assert!(t(vec![b'x'; 107]).starts_with("unix b'xxx"));
    assert_eq!(t(vec![b'x'; 108]), long);
    assert_eq!(t(vec![b'x'; 500]), long);
    // An abstract name may fill sun_path: NUL + 107.
    let mut abs = vec![0u8];
    abs.extend([b'x'; 107]);
    assert!(t(abs.clone()).starts_with("unix b'\\x00xxx"));
    abs.push(b'x');
    assert_eq!(t(abs), long);
    // Empty asks the kernel to autobind.
    assert_eq!(t(vec![]), "unix b''");
    // A str path is its UTF-8 bytes; an abstract str too.
    assert_eq!(
        arg(1, &Address::Scalar(s("/tmp/ü.sock")), "bind"),
        "unix b'/tmp/\\xc3\\xbc.sock'"
    );
    assert_eq!(
        arg(1, &Address::Scalar(s("\0abc")), "bind"),
        "unix b'\\x00abc'"
    );
    let mut str_path = "\0".to_string();
    str_path.push_str(&"x".repeat(108));
    assert_eq!(arg(1, &Address::Scalar(Value::Str(str_path)), "bind"), long);
    // The host's sun_path size is what counts.
    assert_eq!(
        unix_arg(&Address::Scalar(b(b"abcd")), 4).map_err(|e| exc(&e)),
        Err(long.to_string())
    );
    assert_eq!(
        unix_arg(&Address::Scalar(b(b"abc")), 4).ok(),
        Some(b"abc".to_vec())
    );
}

#[test]
fn other_family() {
    for caller in ["connect", "bind", "sendto"] {
        assert_eq!(
            arg(17, &tuple(vec![s("lo"), i(0)]), caller),
            format!("OSError: {caller}(): bad family")
        );
    }
    // AF_UNSPEC is not a socket family getsockaddrarg knows either.
    assert_eq!(
        arg(0, &tuple(vec![s("x"), i(0)]), "bind"),
        "OSError: bind(): bad family"
    );
}

// --- setipaddr ----------------------------------------------------------------

fn ip(fake: &mut Fake, name: &[u8], af: i32) -> String {
    outcome(set_ip_addr(name, af, &F, fake))
}

#[test]
fn setipaddr_wildcard() {
    let mut fake = Fake::default();
    assert_eq!(ip(&mut fake, b"", 2), "inet 0.0.0.0:0");
    assert_eq!(ip(&mut fake, b"", 10), "inet6 [::]:0 flow=0 scope=0");
    assert_eq!(
        ip(&mut fake, b"", 0),
        "OSError: wildcard resolved to multiple address"
    );
    assert_eq!(
        ip(&mut fake, b"", 99),
        "gaierror(-6): [Errno -6] ai_family not supported"
    );
    assert_eq!(
        fake.calls,
        [
            "wildcard af=2",
            "wildcard af=10",
            "wildcard af=0",
            "wildcard af=99"
        ]
    );
    let mut fake = Fake {
        wildcard_answer: Some(vec![Sockaddr::Unix(vec![])]),
        ..Fake::default()
    };
    assert_eq!(ip(&mut fake, b"", 2), "OSError: unsupported address family");
    // The family is checked before the count.
    let mut fake = Fake {
        wildcard_answer: Some(vec![Sockaddr::Unix(vec![]), inet([0; 4])]),
        ..Fake::default()
    };
    assert_eq!(ip(&mut fake, b"", 2), "OSError: unsupported address family");
}

#[test]
fn setipaddr_broadcast() {
    let mut fake = Fake::default();
    for name in [&b"<broadcast>"[..], b"255.255.255.255"] {
        assert_eq!(ip(&mut fake, name, 2), "inet 255.255.255.255:0");
        assert_eq!(ip(&mut fake, name, 0), "inet 255.255.255.255:0");
        assert_eq!(
            ip(&mut fake, name, 10),
            "OSError: address family mismatched"
        );
    }
    assert!(fake.calls.is_empty());
}

#[test]
fn setipaddr_numeric() {
    let mut fake = Fake::default();
    assert_eq!(ip(&mut fake, b"10.1.2.3", 2), "inet 10.1.2.3:0");
    assert_eq!(ip(&mut fake, b"10.1.2.3", 0), "inet 10.1.2.3:0");
    assert_eq!(ip(&mut fake, b"::1", 10), "inet6 [::1]:0 flow=0 scope=0");
    assert_eq!(ip(&mut fake, b"::1", 0), "inet6 [::1]:0 flow=0 scope=0");
    assert!(fake.calls.is_empty());
    // inet_pton is strict: the rest is left to getaddrinfo.
    assert_eq!(ip(&mut fake, b"127.1", 2), "inet 127.0.0.1:0");
    assert_eq!(
        ip(&mut fake, b"01.2.3.4", 2),
        "gaierror(-2): [Errno -2] Name or service not known"
    );
    // A numeric address of the other family goes to getaddrinfo too.
    assert_eq!(
        ip(&mut fake, b"10.1.2.3", 10),
        "gaierror(-9): [Errno -9] Address family for hostname not supported"
    );
    assert_eq!(
        ip(&mut fake, b"::1", 2),
        "gaierror(-9): [Errno -9] Address family for hostname not supported"
    );
    // A scope id always goes to getaddrinfo.
    assert_eq!(
        ip(&mut fake, b"fe80::1%lo", 10),
        "inet6 [fe80::1]:0 flow=0 scope=1"
    );
    assert_eq!(
        fake.calls,
        [
            "lookup \"127.1\" af=2",
            "lookup \"01.2.3.4\" af=2",
            "lookup \"10.1.2.3\" af=10",
            "lookup \"::1\" af=2",
            "lookup \"fe80::1%lo\" af=10",
        ]
    );
}

#[test]
fn setipaddr_lookup_results() {
    // The first result wins.
    let mut fake = Fake {
        lookup_answer: Some(vec![inet([1, 2, 3, 4]), inet([5, 6, 7, 8])]),
        ..Fake::default()
    };
    assert_eq!(ip(&mut fake, b"example", 0), "inet 1.2.3.4:0");
    let mut fake = Fake {
        lookup_answer: Some(vec![Sockaddr::Other((17, vec![]))]),
        ..Fake::default()
    };
    assert_eq!(
        ip(&mut fake, b"example", 0),
        "OSError: unknown address family"
    );
    let mut fake = Fake {
        lookup_answer: Some(vec![]),
        ..Fake::default()
    };
    assert_eq!(
        ip(&mut fake, b"example", 0),
        "OSError: unknown address family"
    );
}

#[test]
fn setipaddr_non_utf8_bytes() {
    let mut fake = Fake::default();
    assert_eq!(
        ip(&mut fake, b"h\xffst", 2),
        "gaierror(-2): [Errno -2] Name or service not known"
    );
    assert!(fake.calls.is_empty());
}

// --- makesockaddr ---------------------------------------------------------------

fn make(sa: Sockaddr) -> String {
    match make_sockaddr(&sa) {
        Some(a) => repr_addr(&a),
        None => "None".into(),
    }
}

#[test]
fn makesockaddr_inet() {
    assert_eq!(make(inet([0; 4])), "('0.0.0.0', 0)");
    assert_eq!(
        make(Sockaddr::Inet(InetAddress {
            addr: (127, 0, 0, 1),
            port: 65535
        })),
        "('127.0.0.1', 65535)"
    );
}

#[test]
fn makesockaddr_inet_is_flat() {
    // No list and no str cross for an AF_INET result.
    let made = make_sockaddr(&Sockaddr::Inet(InetAddress {
        addr: (10, 0, 0, 255),
        port: 8080,
    }));
    assert!(
        matches!(
            made,
            Some(Address::Inet(a)) if a.octets == (10, 0, 0, 255) && a.port == 8080
        ),
        "{made:?}"
    );
}

#[test]
fn inet_address_in_is_the_tuple() {
    // Passed back in, a returned address is the tuple it stands for, for
    // every family and caller.
    let flat = Address::Inet(
        crate::bindings::exports::nativesock::socket::socket::InetAddress {
            octets: (127, 0, 0, 1),
            port: 65535,
        },
    );
    let pair = tuple(vec![s("127.0.0.1"), i(65535)]);
    for family in [2, 10, 1, 12345] {
        for caller in ["connect", "bind", "sendto"] {
            assert_eq!(arg(family, &flat, caller), arg(family, &pair, caller));
        }
    }
    assert_eq!(arg(2, &flat, "connect"), "inet 127.0.0.1:65535");
}

#[test]
fn makesockaddr_inet6() {
    assert_eq!(make(inet6([0; 8])), "('::', 0, 0, 0)");
    assert_eq!(
        make(Sockaddr::Inet6(Inet6Address {
            addr: (0, 0, 0, 0, 0, 0xffff, 0x7f00, 1),
            port: 43303,
            flowinfo: 0x12345,
            scope_id: 4_294_967_295,
        })),
        "('::ffff:127.0.0.1', 43303, 74565, 4294967295)"
    );
    // Never a "%scope" in the host part.
    assert_eq!(
        make(Sockaddr::Inet6(Inet6Address {
            addr: (0xfe80, 0, 0, 0, 0, 0, 0, 1),
            port: 7,
            flowinfo: 0,
            scope_id: 1,
        })),
        "('fe80::1', 7, 0, 1)"
    );
}

#[test]
fn makesockaddr_unix() {
    assert_eq!(make(Sockaddr::Unix(vec![])), "''");
    assert_eq!(
        make(Sockaddr::Unix(b"/tmp/srv.sock".to_vec())),
        "'/tmp/srv.sock'"
    );
    // The kernel's length may count the terminating NUL (and more).
    assert_eq!(
        make(Sockaddr::Unix(b"srv.sock\0\0\0".to_vec())),
        "'srv.sock'"
    );
    assert_eq!(make(Sockaddr::Unix(b"a\0b".to_vec())), "'a'");
    assert_eq!(
        make(Sockaddr::Unix("/tmp/ü".as_bytes().to_vec())),
        "'/tmp/ü'"
    );
    // Abstract: bytes, every byte kept.
    assert_eq!(
        make(Sockaddr::Unix(b"\0python-test-hello\0\xff".to_vec())),
        "b'\\x00python-test-hello\\x00\\xff'"
    );
    assert_eq!(make(Sockaddr::Unix(b"\0".to_vec())), "b'\\x00'");
    // Not UTF-8: bytes (CPython: a str with surrogate escapes).
    assert_eq!(
        make(Sockaddr::Unix(b"/tmp/\xff.sock".to_vec())),
        "b'/tmp/\\xff.sock'"
    );
}

#[test]
fn makesockaddr_other() {
    assert_eq!(make(Sockaddr::Unspec), "None");
    assert_eq!(
        make(Sockaddr::Other((17, vec![1, 2, 3]))),
        "(17, b'\\x01\\x02\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00')"
    );
    assert_eq!(
        make(Sockaddr::Other((17, vec![7; 20]))),
        make(Sockaddr::Other((17, vec![7; 14])))
    );
}

// --- audit_arg ------------------------------------------------------------------

#[test]
fn audit_arg_shape() {
    let a = audit_arg(&tuple(vec![s("localhost"), i(80)]));
    let AuditArg::Tuple(items) = a else {
        panic!("not a tuple: {a:?}");
    };
    assert!(matches!(&items[..], [AuditScalar::Str(h), AuditScalar::Int(80)] if h == "localhost"));

    let a = audit_arg(&tuple(vec![
        Value::None,
        Value::Boolean(true),
        Value::Float(0.5),
        b(b"\0x"),
    ]));
    let AuditArg::Tuple(items) = a else {
        panic!("not a tuple: {a:?}");
    };
    assert!(matches!(
        &items[..],
        [AuditScalar::None, AuditScalar::Boolean(true), AuditScalar::Float(f), AuditScalar::Bytes(v)]
            if *f == 0.5 && v == b"\0x"
    ));

    let a = audit_arg(&Address::Scalar(s("/tmp/sock")));
    assert!(matches!(a, AuditArg::Scalar(AuditScalar::Str(ref p)) if p == "/tmp/sock"));
    let a = audit_arg(&Address::List(vec![i(1)]));
    assert!(matches!(a, AuditArg::Tuple(ref v) if matches!(v[..], [AuditScalar::Int(1)])));
}

// --- inet_pton / inet_ntop ------------------------------------------------------

#[test]
fn pton4_matches_glibc() {
    for &(text, want) in inet_vectors::PTON4 {
        assert_eq!(inet::pton4(text.as_bytes()), want, "{text:?}");
    }
}

#[test]
fn pton6_matches_glibc() {
    for &(text, want) in inet_vectors::PTON6 {
        assert_eq!(inet::pton6(text.as_bytes()), want, "{text:?}");
    }
}

#[test]
fn ntop6_matches_glibc() {
    for &(words, want) in inet_vectors::NTOP6 {
        assert_eq!(inet::ntop6(words), want, "{words:x?}");
        // And it reads back.
        assert_eq!(inet::pton6(want.as_bytes()), Some(words), "{want}");
    }
}

#[test]
fn ntop4() {
    assert_eq!(inet::ntop4([0, 0, 0, 0]), "0.0.0.0");
    assert_eq!(inet::ntop4([255, 255, 255, 255]), "255.255.255.255");
    assert_eq!(inet::ntop4([10, 0, 100, 7]), "10.0.100.7");
    for b in 0..=255_u8 {
        assert_eq!(inet::ntop4([b, 0, b, 9]), format!("{b}.0.{b}.9"));
    }
}

// --- idna_converter -------------------------------------------------------------

#[test]
fn idna_converter_rules() {
    let conv = |v: Value| idna_converter(&v).map_err(|e| exc(&e));
    assert_eq!(conv(s("example.com")), Ok(b"example.com".to_vec()));
    // ASCII str and bytes go through untouched, whatever their labels.
    assert_eq!(conv(s(&"a".repeat(300))), Ok(vec![b'a'; 300]));
    assert_eq!(conv(b(b"\xff\xfe")), Ok(b"\xff\xfe".to_vec()));
    assert_eq!(
        conv(s("Bücher.example")),
        Ok(b"xn--bcher-kva.example".to_vec())
    );
    assert_eq!(
        conv(s("ä".repeat(60).as_str())),
        Err("TypeError: encoding of hostname failed".into())
    );
    assert_eq!(
        conv(b(b"a\0")),
        Err("TypeError: host name must not contain null character".into())
    );
    assert_eq!(
        conv(Value::Int(1)),
        Err("TypeError: str, bytes or bytearray expected, not int".into())
    );
}

/// Random near-addresses against glibc, through CPython:
/// `python3 guest/tools/gen_addr_vectors.py inet-fuzz > /tmp/inet.txt`, then
/// `NATIVESOCK_INET_FUZZ=/tmp/inet.txt cargo test -p nativesock-guest -- --ignored`.
#[test]
#[ignore = "needs a file generated by CPython"]
fn inet_fuzz_against_glibc() {
    let path = std::env::var("NATIVESOCK_INET_FUZZ").expect("NATIVESOCK_INET_FUZZ");
    let text = std::fs::read_to_string(path).expect("read");
    let hex = |h: &str| -> Option<Vec<u8>> {
        (h != "!").then(|| {
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
                .collect()
        })
    };
    let mut failures = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields[..] {
            [input, v4, v6] => {
                let got4 = inet::pton4(input.as_bytes()).map(|a| a.to_vec());
                let got6 = inet::pton6(input.as_bytes())
                    .map(|w| w.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>());
                if got4 != hex(v4) || got6 != hex(v6) {
                    failures.push(format!("{input:?}: {got4:?} {got6:?} vs {v4} {v6}"));
                }
            }
            [bytes, text] => {
                let bytes = hex(bytes).expect("bytes");
                let mut words = [0u16; 8];
                for (k, w) in words.iter_mut().enumerate() {
                    *w = u16::from_be_bytes([bytes[2 * k], bytes[2 * k + 1]]);
                }
                if inet::ntop6(words) != text {
                    failures.push(format!("{words:x?}: {} vs {text}", inet::ntop6(words)));
                }
            }
            _ => panic!("bad line {line:?}"),
        }
    }
    assert!(
        failures.is_empty(),
        "{}",
        failures[..failures.len().min(20)].join("\n")
    );
}
