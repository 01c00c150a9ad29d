//! `create_connection`, `create_server` and `has_dualstack_ipv6`,
//! differentially: prints what each call gave the way
//! `host/tests/differential/create_helpers_differential.py` prints
//! CPython's. Arguments: a listening port P and a refusing port Q on
//! 127.0.0.1, which the host test opens.

use nativesock_test_programs::nativesock::socket::socket as ns;
use nativesock_test_programs::nativesock::socket::socket::SockoptValue;
use nativesock_test_programs::py;
use nativesock_test_programs::*;

fn c(name: &str) -> i64 {
    constant(name).unwrap_or_else(|| panic!("no constant {name}"))
}

fn opt(s: &Socket, level: &str, name: &str) -> i64 {
    match s
        .getsockopt(&int(c(level)), &int(c(name)), None)
        .expect("getsockopt")
    {
        SockoptValue::Int(i) => i,
        SockoptValue::Bytes(b) => panic!("bytes {b:?}"),
    }
}

fn timeout(t: Option<f64>) -> String {
    t.map_or("None".into(), |t| format!("{t:?}"))
}

fn conn(s: &Socket) -> String {
    let r = py::tuple(&[
        s.family().to_string(),
        s.type_().to_string(),
        s.proto().to_string(),
        timeout(s.gettimeout()),
        py::host(&s.getsockname().expect("getsockname")),
        py::addr(&s.getpeername().expect("getpeername")),
    ]);
    s.close().expect("close");
    r
}

fn server(s: &Socket) -> String {
    let v6 = if s.family() == c("AF_INET6") {
        opt(s, "IPPROTO_IPV6", "IPV6_V6ONLY").to_string()
    } else {
        "None".into()
    };
    let r = py::tuple(&[
        s.family().to_string(),
        s.type_().to_string(),
        timeout(s.gettimeout()),
        py::host(&s.getsockname().expect("getsockname")),
        if opt(s, "SOL_SOCKET", "SO_REUSEADDR") != 0 {
            "True"
        } else {
            "False"
        }
        .into(),
        opt(s, "SOL_SOCKET", "SO_ACCEPTCONN").to_string(),
        opt(s, "SOL_SOCKET", "SO_REUSEPORT").to_string(),
        v6,
    ]);
    s.close().expect("close");
    r
}

fn main() {
    let args = args();
    let p: i64 = args[0].parse().expect("P");
    let q: i64 = args[1].parse().expect("Q");
    let s = |t: &str| Value::Str(t.into());
    let at = |host: &str, port: i64| Address::Tuple(vec![s(host), Value::Int(port)]);
    let cc = |label: &str, a: Address, t: Option<Value>, src: Option<Address>, all: bool| {
        py::show(
            label,
            ns::create_connection(&a, t.as_ref(), src.as_ref(), all),
            conn,
        );
    };
    cc(
        "create_connection(('127.0.0.1', P))",
        at("127.0.0.1", p),
        None,
        None,
        false,
    );
    cc(
        "create_connection(('127.0.0.1', P), 2.5)",
        at("127.0.0.1", p),
        Some(Value::Float(2.5)),
        None,
        false,
    );
    cc(
        "create_connection(('127.0.0.1', P), None)",
        at("127.0.0.1", p),
        Some(Value::None),
        None,
        false,
    );
    cc(
        "create_connection(('127.0.0.1', P), 0)",
        at("127.0.0.1", p),
        Some(Value::Int(0)),
        None,
        false,
    );
    cc(
        "create_connection(['127.0.0.1', P], source_address=('127.0.0.2', 0))",
        Address::List(vec![s("127.0.0.1"), Value::Int(p)]),
        None,
        Some(at("127.0.0.2", 0)),
        false,
    );
    cc(
        "create_connection(('127.0.0.1', P), source_address=())",
        at("127.0.0.1", p),
        None,
        Some(Address::Tuple(vec![])),
        false,
    );
    cc(
        "create_connection(('127.0.0.1', Q))",
        at("127.0.0.1", q),
        None,
        None,
        false,
    );
    cc(
        "create_connection(('127.0.0.1', Q), all_errors=True)",
        at("127.0.0.1", q),
        None,
        None,
        true,
    );
    cc(
        "create_connection(('localhost', Q), all_errors=True)",
        at("localhost", q),
        None,
        None,
        true,
    );
    cc(
        "create_connection(('localhost', Q))",
        at("localhost", q),
        None,
        None,
        false,
    );
    cc(
        "create_connection(('127.0.0.1',))",
        Address::Tuple(vec![s("127.0.0.1")]),
        None,
        None,
        false,
    );
    cc(
        "create_connection(('127.0.0.1', P, 0))",
        Address::Tuple(vec![s("127.0.0.1"), Value::Int(p), Value::Int(0)]),
        None,
        None,
        false,
    );
    cc(
        "create_connection(5)",
        Address::Scalar(Value::Int(5)),
        None,
        None,
        false,
    );
    cc(
        "create_connection(('127.0.0.1', 'nosuchservice'))",
        Address::Tuple(vec![s("127.0.0.1"), s("nosuchservice")]),
        None,
        None,
        false,
    );
    cc(
        "create_connection(('127.0.0.1', P), -1)",
        at("127.0.0.1", p),
        Some(Value::Int(-1)),
        None,
        false,
    );
    cc(
        "create_connection(('127.0.0.1', P), source_address=('::1', 0))",
        at("127.0.0.1", p),
        None,
        Some(at("::1", 0)),
        false,
    );
    cc(
        "create_connection(('127.0.0.1', P), source_address=('::1', 0), all_errors=True)",
        at("127.0.0.1", p),
        None,
        Some(at("::1", 0)),
        true,
    );
    cc(
        "create_connection(('127.0.0.1', P), source_address='x')",
        at("127.0.0.1", p),
        None,
        Some(Address::Scalar(s("x"))),
        false,
    );

    let (inet6, n) = (Some(c("AF_INET6")), None);
    let cs = |label: &str,
              a: Address,
              family: Option<i64>,
              backlog: Option<i64>,
              reuse: bool,
              dual: bool| {
        py::show(
            label,
            ns::create_server(
                &a,
                family.map(int).as_ref(),
                backlog.map(int).as_ref(),
                reuse,
                dual,
            ),
            server,
        );
    };
    cs(
        "create_server(('127.0.0.1', 0))",
        at("127.0.0.1", 0),
        n,
        n,
        false,
        false,
    );
    cs(
        "create_server(('127.0.0.1', P))",
        at("127.0.0.1", p),
        n,
        n,
        false,
        false,
    );
    cs(
        "create_server(('::1', 0), family=AF_INET6)",
        at("::1", 0),
        inet6,
        n,
        false,
        false,
    );
    cs(
        "create_server(('::1', 0), family=AF_INET6, dualstack_ipv6=True)",
        at("::1", 0),
        inet6,
        n,
        false,
        true,
    );
    cs(
        "create_server(('127.0.0.1', 0), dualstack_ipv6=True)",
        at("127.0.0.1", 0),
        n,
        n,
        false,
        true,
    );
    cs(
        "create_server(('127.0.0.1', 0), family=AF_INET6)",
        at("127.0.0.1", 0),
        inet6,
        n,
        false,
        false,
    );
    cs(
        "create_server(('127.0.0.1', 0), backlog=5, reuse_port=True)",
        at("127.0.0.1", 0),
        n,
        Some(5),
        true,
        false,
    );
    cs(
        "create_server('x')",
        Address::Scalar(s("x")),
        n,
        n,
        false,
        false,
    );
    cs(
        "create_server(('127.0.0.1', 70000))",
        at("127.0.0.1", 70000),
        n,
        n,
        false,
        false,
    );
    cs(
        "create_server(('127.0.0.1', 0), family=12345)",
        at("127.0.0.1", 0),
        Some(12345),
        n,
        false,
        false,
    );
    println!(
        "has_dualstack_ipv6() -> {}",
        if ns::has_dualstack_ipv6() {
            "True"
        } else {
            "False"
        }
    );
}
