//! What the test programs share: the `app` world's bindings and a few helpers
//! that spell Python's socket calls in Rust.
//!
//! Each program in `src/bin/` checks one behaviour against what CPython 3.11
//! does on Linux (`Modules/socketmodule.c`, `Lib/socket.py`) and panics, which traps
//! the component, on the first difference. It prints what it did and saw on
//! stdout; some lines are markers (`announce`) that the host test waits for
//! before it acts from outside (sending a signal, freeing a backlog).

use std::fmt::Debug;
use std::io::Write;
use std::time::Instant;

wit_bindgen::generate!({
    path: "../../wit",
    world: "app",
    // Programs compare addresses and errors with `assert_eq!`.
    additional_derives: [PartialEq],
});

pub use nativesock::socket::socket::{Address, Error, Socket, Value, constant};

/// `(host, port)`.
pub fn inet(host: &str, port: u16) -> Address {
    Address::Tuple(vec![Value::Str(host.into()), Value::Int(port.into())])
}

/// `(host, port)` with a dotted-quad host, as the component returns it
/// (`address::inet`).
pub fn returned(address: &Address) -> Address {
    match address {
        Address::Tuple(items) => match items.as_slice() {
            [Value::Str(host), Value::Int(port)] => {
                let ip: std::net::Ipv4Addr = host.parse().expect("a dotted quad");
                let [b0, b1, b2, b3] = ip.octets();
                Address::Inet(nativesock::socket::socket::InetAddress {
                    octets: (b0, b1, b2, b3),
                    port: u16::try_from(*port).expect("port in range"),
                })
            }
            _ => panic!("not an AF_INET pair: {address:?}"),
        },
        other => panic!("not an AF_INET pair: {other:?}"),
    }
}

/// The port of an `AF_INET` or `AF_INET6` address as CPython returns it.
pub fn port_of(address: &Address) -> u16 {
    match address {
        Address::Tuple(items) => match items.get(1) {
            Some(Value::Int(port)) => u16::try_from(*port).expect("port in range"),
            other => panic!("no port in {address:?}: {other:?}"),
        },
        Address::Inet(a) => a.port,
        other => panic!("not an inet address: {other:?}"),
    }
}

/// `socket.socket()`: `AF_INET`, `SOCK_STREAM`, blocking.
pub fn tcp() -> Socket {
    Socket::create(None, None, None, None).expect("socket.socket()")
}

/// A `SOCK_DGRAM` socket bound to an ephemeral port on `127.0.0.1`.
pub fn udp() -> Socket {
    let af_inet = constant("AF_INET").expect("AF_INET");
    let dgram = constant("SOCK_DGRAM").expect("SOCK_DGRAM");
    let u = Socket::create(Some(&int(af_inet)), Some(&int(dgram)), None, None)
        .expect("socket(AF_INET, SOCK_DGRAM)");
    u.bind(&inet("127.0.0.1", 0))
        .expect("bind(('127.0.0.1', 0))");
    u
}

/// A `SOCK_STREAM` socket listening on `127.0.0.1` with `backlog`, and its port.
pub fn listener(backlog: i64) -> (Socket, u16) {
    let s = tcp();
    s.bind(&inet("127.0.0.1", 0))
        .expect("bind(('127.0.0.1', 0))");
    s.listen(Some(&int(backlog))).expect("listen()");
    let port = port_of(&s.getsockname().expect("getsockname()"));
    (s, port)
}

/// A port on `127.0.0.1` that refuses connections for as long as the returned
/// socket lives: it is bound but does not listen, so the kernel answers RST.
pub fn refusing_port() -> (Socket, u16) {
    let s = tcp();
    s.bind(&inet("127.0.0.1", 0))
        .expect("bind(('127.0.0.1', 0))");
    let port = port_of(&s.getsockname().expect("getsockname()"));
    (s, port)
}

/// A listener whose accept queue is full: `listen(0)` and one connection that
/// nobody accepts. Linux then drops further SYNs, so a connect to `port`
/// stays in progress until the kernel gives up (minutes).
pub struct FullBacklog {
    /// The listening socket.
    pub listener: Socket,
    /// The connection that fills the queue.
    pub queued: Socket,
    /// The listener's port.
    pub port: u16,
}

impl FullBacklog {
    /// Sets one up on `127.0.0.1`.
    pub fn new() -> FullBacklog {
        let (listener, port) = self::listener(0);
        let queued = tcp();
        queued
            .connect(&inet("127.0.0.1", port))
            .expect("the first connection fits in the queue");
        FullBacklog {
            listener,
            queued,
            port,
        }
    }
}

impl Default for FullBacklog {
    fn default() -> Self {
        Self::new()
    }
}

/// An int argument, as in `recv(1024)`: every int a Python program passes
/// crosses as a `value`.
pub fn int(value: impl Into<i64>) -> Value {
    Value::Int(value.into())
}

/// A float argument, as in `settimeout(1.0)`.
pub fn float(value: f64) -> Value {
    Value::Float(value)
}

/// Asserts that `result` is the exception CPython raises: its class, its
/// errno and `str(exc)`. For an `OSError` with an errno, `str(exc)` is
/// `[Errno N] strerror`, so `strerror` is checked too.
#[track_caller]
pub fn assert_raises<T: Debug>(
    result: Result<T, Error>,
    exception: &str,
    errno: Option<i32>,
    message: &str,
) -> Error {
    let err = match result {
        Ok(value) => panic!("expected {exception}: {message}, got Ok({value:?})"),
        Err(err) => err,
    };
    assert_eq!(
        (err.exception.as_str(), err.errno, err.message.as_str()),
        (exception, errno, message),
        "unexpected exception: {err:?}"
    );
    if let Some(errno) = errno {
        let strerror = err
            .strerror
            .as_deref()
            .expect("an OSError with an errno has a strerror");
        assert_eq!(format!("[Errno {errno}] {strerror}"), message, "{err:?}");
    }
    err
}

/// Prints a marker line and flushes it: the host test waits for it.
pub fn announce(marker: &str) {
    println!("{marker}");
    std::io::stdout().flush().expect("flush stdout");
}

/// Seconds since `start`.
pub fn elapsed(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// Asserts `low <= seconds <= high` and prints the value.
#[track_caller]
pub fn assert_took(what: &str, seconds: f64, low: f64, high: f64) {
    println!("{what} took {seconds:.3} s");
    assert!(
        (low..=high).contains(&seconds),
        "{what} took {seconds:.3} s, expected {low} to {high} s"
    );
}

/// Opens sockets of every kind of ownership and leaks them: a listener, a
/// connected client, the accepted end, a `dup` of the client, and a detached
/// fd that no socket object owns any more. Returns their fds. Only the host
/// can close them now, when the store is dropped.
pub fn leak_sockets() -> Vec<i64> {
    let (server, port) = listener(5);
    let client = tcp();
    client
        .connect(&inet("127.0.0.1", port))
        .expect("connect to the listener");
    let (accepted, _) = server.accept().expect("accept()");
    let dup = client.dup().expect("dup()");
    let detached = tcp().detach();
    let mut fds = vec![detached];
    for s in [server, client, accepted, dup] {
        fds.push(s.fileno());
        std::mem::forget(s);
    }
    assert!(fds.iter().all(|&fd| fd > 2), "real host fds: {fds:?}");
    println!("leaked fds {fds:?}");
    fds
}

/// `str(exc)` of the `OSError` for an fd that is not the store's.
const EBADF: &str = "[Errno 9] Bad file descriptor";

/// Probes each of `fds`, real fds of the host or of another store, and
/// asserts that this store cannot reach them: wrapping one
/// (`socket(fileno=fd)`, then `socket(family, type, proto, fd)` for each
/// of `explicit`) and closing it raise `OSError` `EBADF`. Prints a line per
/// fd.
pub fn assert_unreachable(fds: &[i64], explicit: &[(i64, i64, i64)]) {
    for &fd in fds {
        assert_raises(
            Socket::create(None, None, None, Some(&int(fd))),
            "OSError",
            Some(9),
            EBADF,
        );
        for &(family, kind, proto) in explicit {
            assert_raises(
                Socket::create(
                    Some(&int(family)),
                    Some(&int(kind)),
                    Some(&int(proto)),
                    Some(&int(fd)),
                ),
                "OSError",
                Some(9),
                EBADF,
            );
        }
        assert_raises(
            nativesock::socket::socket::close_fd(&int(fd)),
            "OSError",
            Some(9),
            EBADF,
        );
        println!("socket(fileno={fd}) -> OSError 9, close({fd}) -> OSError 9");
    }
}

/// The program's arguments after its name.
pub fn args() -> Vec<String> {
    std::env::args().skip(1).collect()
}

/// Python's `repr()` of the values the differential programs print, so
/// that a program's stdout can be compared line by line with what
/// `python3` prints for the same calls (`host/tests/e2e.rs` runs both).
pub mod py {
    use super::{Address, Error, Value};

    /// `repr(str)` for the plain text these programs meet.
    pub fn s(text: &str) -> String {
        let mut out = String::from("'");
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\0' => out.push_str("\\x00"),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    }

    /// `repr(bytes)`.
    pub fn b(bytes: &[u8]) -> String {
        let mut out = String::from("b'");
        for &c in bytes {
            match c {
                b'\\' => out.push_str("\\\\"),
                b'\'' => out.push_str("\\'"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x20..=0x7e => out.push(c as char),
                c => out.push_str(&format!("\\x{c:02x}")),
            }
        }
        out.push('\'');
        out
    }

    /// `repr(value)`.
    pub fn v(value: &Value) -> String {
        match value {
            Value::None => "None".into(),
            Value::Boolean(true) => "True".into(),
            Value::Boolean(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::BigInt(digits) => digits.clone(),
            Value::Object(name) => format!("<{name} object>"),
            Value::Float(f) => format!("{f:?}"),
            Value::Str(text) => s(text),
            Value::Bytes(bytes) => b(bytes),
        }
    }

    /// `repr(tuple)` of already formatted items.
    pub fn tuple(items: &[String]) -> String {
        if items.len() == 1 {
            format!("({},)", items[0])
        } else {
            format!("({})", items.join(", "))
        }
    }

    /// `repr(list)` of already formatted items.
    pub fn list(items: &[String]) -> String {
        format!("[{}]", items.join(", "))
    }

    /// `repr(address)`.
    pub fn addr(address: &Address) -> String {
        match address {
            Address::Tuple(items) => tuple(&items.iter().map(v).collect::<Vec<_>>()),
            Address::List(items) => list(&items.iter().map(v).collect::<Vec<_>>()),
            Address::Scalar(value) => v(value),
            Address::Inet(a) => tuple(&[host(address), a.port.to_string()]),
        }
    }

    /// `repr(address[0])` of an `AF_INET` or `AF_INET6` address, or
    /// `repr(address)` of any other.
    pub fn host(address: &Address) -> String {
        match address {
            Address::Tuple(items) if !items.is_empty() => v(&items[0]),
            Address::Inet(a) => {
                let (b0, b1, b2, b3) = a.octets;
                format!("'{b0}.{b1}.{b2}.{b3}'")
            }
            other => addr(other),
        }
    }

    /// How the differential snippets print an exception: `Class: str(exc)`,
    /// and for an `ExceptionGroup` its sub-exceptions after ` | `.
    pub fn exc(e: &Error) -> String {
        let mut out = format!("{}: {}", e.exception, e.message);
        for sub in &e.exceptions {
            out.push_str(&format!(" | {}: {}", sub.exception, sub.message));
        }
        out
    }

    /// Prints `label -> repr(result)` or `label -> Class: str(exc)`.
    pub fn show<T>(label: &str, result: Result<T, Error>, fmt: impl Fn(&T) -> String) {
        match result {
            Ok(value) => println!("{label} -> {}", fmt(&value)),
            Err(e) => println!("{label} -> {}", exc(&e)),
        }
    }
}
