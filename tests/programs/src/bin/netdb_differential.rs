//! The `socket` module's name service functions, differentially: prints
//! each call's result or exception the way
//! `host/tests/differential/netdb_differential.py` prints CPython's, and
//! the host test compares the two outputs line by line. Only `localhost`
//! and numeric hosts are looked up.

use nativesock_test_programs::nativesock::socket::socket as ns;
use nativesock_test_programs::py;
use nativesock_test_programs::*;

fn c(name: &str) -> i64 {
    constant(name).unwrap_or_else(|| panic!("no constant {name}"))
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

fn gai(label: &str, host: Value, port: Value, rest: [Option<i64>; 4]) {
    let [family, kind, proto, flags] = rest;
    py::show(
        label,
        ns::getaddrinfo(
            &host,
            &port,
            family.map(int).as_ref(),
            kind.map(int).as_ref(),
            proto.map(int).as_ref(),
            flags.map(int).as_ref(),
        ),
        |list| {
            py::list(
                &list
                    .iter()
                    .map(|ai| {
                        py::tuple(&[
                            ai.family.to_string(),
                            ai.socket_type.to_string(),
                            ai.proto.to_string(),
                            py::s(&ai.canonname),
                            py::addr(&ai.sockaddr),
                        ])
                    })
                    .collect::<Vec<_>>(),
            )
        },
    );
}

fn hostent(h: &ns::Hostent) -> String {
    let strs = |v: &[String]| py::list(&v.iter().map(|x| py::s(x)).collect::<Vec<_>>());
    py::tuple(&[py::s(&h.hostname), strs(&h.aliaslist), strs(&h.ipaddrlist)])
}

fn nameinfo(label: &str, sockaddr: Address, flags: i64) {
    py::show(label, ns::getnameinfo(&sockaddr, &int(flags)), |(h, p)| {
        py::tuple(&[py::s(h), py::s(p)])
    });
}

fn tuple(items: Vec<Value>) -> Address {
    Address::Tuple(items)
}

fn main() {
    let n = None;
    let (inet, inet6) = (Some(c("AF_INET")), Some(c("AF_INET6")));
    let (stream, dgram) = (Some(c("SOCK_STREAM")), Some(c("SOCK_DGRAM")));
    let int = Value::Int;
    let bytes = |b: &[u8]| Value::Bytes(b.to_vec());

    gai(
        "getaddrinfo('127.0.0.1', 80)",
        s("127.0.0.1"),
        int(80),
        [n; 4],
    );
    gai(
        "getaddrinfo('127.0.0.1', 'http', 0, SOCK_STREAM)",
        s("127.0.0.1"),
        s("http"),
        [Some(0), stream, n, n],
    );
    gai(
        "getaddrinfo('localhost', 80, AF_INET, SOCK_STREAM, 0, AI_CANONNAME)",
        s("localhost"),
        int(80),
        [inet, stream, Some(0), Some(c("AI_CANONNAME"))],
    );
    gai(
        "getaddrinfo(None, 80, AF_INET, SOCK_STREAM, 0, AI_PASSIVE)",
        Value::None,
        int(80),
        [inet, stream, Some(0), Some(c("AI_PASSIVE"))],
    );
    gai(
        "getaddrinfo(None, 80, AF_INET6, SOCK_STREAM)",
        Value::None,
        int(80),
        [inet6, stream, n, n],
    );
    gai(
        "getaddrinfo('::1', 80, AF_INET6, SOCK_DGRAM)",
        s("::1"),
        int(80),
        [inet6, dgram, n, n],
    );
    gai(
        "getaddrinfo(b'127.0.0.1', b'80', AF_INET, SOCK_STREAM)",
        bytes(b"127.0.0.1"),
        bytes(b"80"),
        [inet, stream, n, n],
    );
    gai(
        "getaddrinfo('127.0.0.1', None, AF_INET, SOCK_STREAM)",
        s("127.0.0.1"),
        Value::None,
        [inet, stream, n, n],
    );
    gai("getaddrinfo(None, None)", Value::None, Value::None, [n; 4]);
    gai(
        "getaddrinfo('127.0.0.1', True)",
        s("127.0.0.1"),
        Value::Boolean(true),
        [n; 4],
    );
    gai(
        "getaddrinfo('127.0.0.1', 1.5)",
        s("127.0.0.1"),
        Value::Float(1.5),
        [n; 4],
    );
    gai("getaddrinfo(1, 80)", int(1), int(80), [n; 4]);
    gai("getaddrinfo('a..b', 80)", s("a..b"), int(80), [n; 4]);
    gai(
        "getaddrinfo('127.0.0.1', 80, 2**31)",
        s("127.0.0.1"),
        int(80),
        [Some(1 << 31), n, n, n],
    );
    gai(
        "getaddrinfo('127.0.0.1', -1, AF_INET, SOCK_STREAM)",
        s("127.0.0.1"),
        int(-1),
        [inet, stream, n, n],
    );
    gai(
        "getaddrinfo('127.0.0.1', 70000, AF_INET, SOCK_STREAM)",
        s("127.0.0.1"),
        int(70000),
        [inet, stream, n, n],
    );
    gai(
        "getaddrinfo('127.0.0.1', 'nosuchservice', AF_INET, SOCK_STREAM)",
        s("127.0.0.1"),
        s("nosuchservice"),
        [inet, stream, n, n],
    );
    gai(
        "getaddrinfo('::1', 80, AF_INET)",
        s("::1"),
        int(80),
        [inet, n, n, n],
    );
    gai(
        "getaddrinfo('127.0.0.1', 80, 12345)",
        s("127.0.0.1"),
        int(80),
        [Some(12345), n, n, n],
    );
    gai(
        "getaddrinfo('127.0.0.1', 80, 0, 0, 0, -1)",
        s("127.0.0.1"),
        int(80),
        [Some(0), Some(0), Some(0), Some(-1)],
    );

    for (label, arg) in [
        ("gethostbyname('localhost')", s("localhost")),
        ("gethostbyname(b'127.0.0.1')", bytes(b"127.0.0.1")),
        ("gethostbyname('')", s("")),
        ("gethostbyname('<broadcast>')", s("<broadcast>")),
        ("gethostbyname('::1')", s("::1")),
        ("gethostbyname(1)", int(1)),
        ("gethostbyname('a\\x00b')", s("a\0b")),
    ] {
        py::show(label, ns::gethostbyname(&arg), |h| py::s(h));
    }
    for (label, arg) in [
        ("gethostbyname_ex('localhost')", s("localhost")),
        ("gethostbyname_ex('127.0.0.1')", s("127.0.0.1")),
        ("gethostbyname_ex('::1')", s("::1")),
    ] {
        py::show(label, ns::gethostbyname_ex(&arg), hostent);
    }
    for (label, arg) in [
        ("gethostbyaddr('127.0.0.1')", s("127.0.0.1")),
        ("gethostbyaddr(1)", int(1)),
        ("gethostbyaddr('')", s("")),
    ] {
        py::show(label, ns::gethostbyaddr(&arg), hostent);
    }

    let numeric = c("NI_NUMERICHOST");
    nameinfo(
        "getnameinfo(('127.0.0.1', 80), 0)",
        tuple(vec![s("127.0.0.1"), int(80)]),
        0,
    );
    nameinfo(
        "getnameinfo(('127.0.0.1', 80), NI_NUMERICHOST | NI_NUMERICSERV)",
        tuple(vec![s("127.0.0.1"), int(80)]),
        numeric | c("NI_NUMERICSERV"),
    );
    nameinfo(
        "getnameinfo(('::1', 53, 0, 0), NI_NUMERICHOST | NI_DGRAM)",
        tuple(vec![s("::1"), int(53), int(0), int(0)]),
        numeric | c("NI_DGRAM"),
    );
    nameinfo(
        "getnameinfo(['127.0.0.1', 80], 0)",
        Address::List(vec![s("127.0.0.1"), int(80)]),
        0,
    );
    nameinfo(
        "getnameinfo((b'127.0.0.1', 80), 0)",
        tuple(vec![bytes(b"127.0.0.1"), int(80)]),
        0,
    );
    nameinfo(
        "getnameinfo(('127.0.0.1',), 0)",
        tuple(vec![s("127.0.0.1")]),
        0,
    );
    nameinfo(
        "getnameinfo(('127.0.0.1', 'x'), 0)",
        tuple(vec![s("127.0.0.1"), s("x")]),
        0,
    );
    nameinfo(
        "getnameinfo(('127.0.0.1', 80, 1), 0)",
        tuple(vec![s("127.0.0.1"), int(80), int(1)]),
        0,
    );
    nameinfo(
        "getnameinfo(('::1', 80, 0x100000), 0)",
        tuple(vec![s("::1"), int(80), int(0x100000)]),
        0,
    );
    nameinfo(
        "getnameinfo(('127.0.0.1', -1), NI_NUMERICHOST)",
        tuple(vec![s("127.0.0.1"), int(-1)]),
        numeric,
    );
    nameinfo(
        "getnameinfo(('127.0.0.1', 2**31), NI_NUMERICHOST)",
        tuple(vec![s("127.0.0.1"), int(1 << 31)]),
        numeric,
    );
    nameinfo(
        "getnameinfo(('localhost', 80), NI_NUMERICHOST)",
        tuple(vec![s("localhost"), int(80)]),
        numeric,
    );
    nameinfo(
        "getnameinfo(('127.0.0.1', 80), 2**31)",
        tuple(vec![s("127.0.0.1"), int(80)]),
        1 << 31,
    );

    let port = |p: &i64| p.to_string();
    py::show(
        "getservbyname('http')",
        ns::getservbyname("http", None),
        port,
    );
    py::show(
        "getservbyname('domain', 'udp')",
        ns::getservbyname("domain", Some("udp")),
        port,
    );
    py::show(
        "getservbyname('nope')",
        ns::getservbyname("nope", None),
        port,
    );
    let name = |n: &String| py::s(n);
    py::show("getservbyport(80)", ns::getservbyport(&int(80), None), name);
    py::show(
        "getservbyport(53, 'udp')",
        ns::getservbyport(&int(53), Some("udp")),
        name,
    );
    py::show(
        "getservbyport(70000)",
        ns::getservbyport(&int(70000), None),
        name,
    );
    py::show("getservbyport(-1)", ns::getservbyport(&int(-1), None), name);
    py::show(
        "getservbyport(2**31)",
        ns::getservbyport(&int(1 << 31), None),
        name,
    );
    py::show("gethostname()", ns::gethostname(), name);
    for arg in ["localhost", " 127.0.0.1 ", "127.0.0.1"] {
        py::show(&format!("getfqdn({})", py::s(arg)), ns::getfqdn(arg), name);
    }
}
