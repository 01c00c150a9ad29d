//! A tour of nativesock's socket object on loopback: each call as a Python
//! program would write it, and what it returned or raised.
//!
//! ```text
//! s.connect(('127.0.0.1', 40123)) -> None
//! r.connect_ex(('127.0.0.1', 40125)) -> 111
//! r.connect(('127.0.0.1', 40125)) -> raise ConnectionRefusedError: [Errno 111] Connection refused
//! ```
//!
//! A `KeyboardInterrupt` (Ctrl-C during a wait) ends the tour as it ends a
//! Python program: `KeyboardInterrupt` on stderr, exit status 130.

use std::fmt::Write as _;
use std::process::ExitCode;

use nativesock::socket::socket::{Address, Error, Socket, Value};

wit_bindgen::generate!({
    path: "../../wit",
    world: "app",
});

/// `exit-with-code` from WASI 0.2.12: on wasm32-wasip2 `std::process::exit`
/// reports only success or failure (0 or 1), and a Python program that dies
/// of `KeyboardInterrupt` exits with 130.
mod exit {
    wit_bindgen::generate!({
        inline: "
            package nativesock:demo;
            world exit { import wasi:cli/exit@0.2.12; }
            package wasi:cli@0.2.12 {
                interface exit {
                    exit: func(status: result);
                    exit-with-code: func(status-code: u8);
                }
            }
        ",
        generate_all,
    });
    pub use wasi::cli::exit::exit_with_code;
}

/// Python's `repr()` of a result.
trait Repr {
    fn repr(&self) -> String;
}

impl Repr for () {
    fn repr(&self) -> String {
        "None".into()
    }
}

impl Repr for bool {
    fn repr(&self) -> String {
        if *self { "True" } else { "False" }.into()
    }
}

impl Repr for i32 {
    fn repr(&self) -> String {
        self.to_string()
    }
}

impl Repr for i64 {
    fn repr(&self) -> String {
        self.to_string()
    }
}

impl Repr for Socket {
    fn repr(&self) -> String {
        Socket::repr(self)
    }
}

impl Repr for Value {
    fn repr(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Boolean(b) => b.repr(),
            Value::Int(i) => i.to_string(),
            Value::BigInt(digits) => digits.clone(),
            Value::Object(name) => format!("<{name} object>"),
            Value::Float(f) => format!("{f:?}"),
            Value::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Value::Bytes(bytes) => {
                let mut out = String::from("b'");
                for &b in bytes {
                    match b {
                        b'\\' | b'\'' => write!(out, "\\{}", b as char),
                        0x20..=0x7e => write!(out, "{}", b as char),
                        _ => write!(out, "\\x{b:02x}"),
                    }
                    .expect("writing to a String");
                }
                out + "'"
            }
        }
    }
}

impl Repr for Address {
    fn repr(&self) -> String {
        let join = |items: &[Value]| items.iter().map(Repr::repr).collect::<Vec<_>>().join(", ");
        match self {
            Address::Tuple(items) if items.len() == 1 => format!("({},)", join(items)),
            Address::Tuple(items) => format!("({})", join(items)),
            Address::List(items) => format!("[{}]", join(items)),
            Address::Scalar(value) => value.repr(),
            Address::Inet(a) => {
                let (b0, b1, b2, b3) = a.octets;
                format!("('{b0}.{b1}.{b2}.{b3}', {})", a.port)
            }
        }
    }
}

/// Prints `call -> result` (or `call -> raise Exc: message`) and hands the
/// result back. A `KeyboardInterrupt` ends the program there.
fn show<T: Repr>(call: &str, result: Result<T, Error>) -> Result<T, Error> {
    match &result {
        Ok(value) => println!("{call} -> {}", value.repr()),
        Err(err) if err.exception == "KeyboardInterrupt" => {
            println!("{call} -> raise KeyboardInterrupt");
            eprintln!("KeyboardInterrupt");
            exit::exit_with_code(130);
            unreachable!("exit-with-code returned");
        }
        Err(err) => println!("{call} -> raise {}: {}", err.exception, err.message),
    }
    result
}

/// Shows `name = socket.socket(...)` and returns the new socket.
fn new_socket(name: &str, fileno: Option<i64>) -> Result<Socket, Error> {
    let call = match fileno {
        None => format!("{name} = socket.socket()"),
        Some(fd) => format!("{name} = socket.socket(fileno={fd})"),
    };
    let fileno = fileno.map(Value::Int);
    show(&call, Socket::create(None, None, None, fileno.as_ref()))
}

fn inet(port: i64) -> Address {
    Address::Tuple(vec![Value::Str("127.0.0.1".into()), Value::Int(port)])
}

fn port_of(address: &Address) -> i64 {
    match address {
        Address::Tuple(items) => match items.get(1) {
            Some(Value::Int(port)) => *port,
            _ => 0,
        },
        Address::Inet(a) => a.port.into(),
        _ => 0,
    }
}

/// Section headings, as Python comments.
fn heading(text: &str) {
    println!("\n# {text}");
}

fn tour() -> Result<(), Error> {
    println!("# nativesock: Python's socket object on the host's real sockets (loopback only)");

    heading("a listener on an ephemeral port");
    let srv = new_socket("srv", None)?;
    show("srv.bind(('127.0.0.1', 0))", srv.bind(&inet(0)))?;
    show("srv.listen()", srv.listen(None))?;
    let port = port_of(&show("srv.getsockname()", srv.getsockname())?);
    let addr = inet(port);
    let at = addr.repr();

    heading("connect, and the two ends of the connection");
    let s = new_socket("s", None)?;
    show("s.fileno()", Ok(s.fileno()))?;
    show(&format!("s.connect({at})"), s.connect(&addr))?;
    show("s.getsockname()", s.getsockname())?;
    show("s.getpeername()", s.getpeername())?;
    let c = new_socket("c", None)?;
    show(&format!("c.connect_ex({at})"), c.connect_ex(&addr))?;

    heading("a port that is bound but not listening refuses");
    let closed = new_socket("closed", None)?;
    show("closed.bind(('127.0.0.1', 0))", closed.bind(&inet(0)))?;
    let refused = inet(port_of(&show(
        "closed.getsockname()",
        closed.getsockname(),
    )?));
    let r = new_socket("r", None)?;
    show(
        &format!("r.connect_ex({})", refused.repr()),
        r.connect_ex(&refused),
    )?;
    let _ = show(
        &format!("r.connect({})", refused.repr()),
        r.connect(&refused),
    );

    heading("dup, inheritable, detach and fileno=");
    let d = show("d = s.dup()", s.dup())?;
    show("d.get_inheritable()", d.get_inheritable())?;
    show("d.set_inheritable(True)", d.set_inheritable(true))?;
    show("d.get_inheritable()", d.get_inheritable())?;
    let fd = show("fd = d.detach()", Ok(d.detach()))?;
    show("d.fileno()", Ok(d.fileno()))?;
    let e = new_socket("e", Some(fd))?;
    show("e.getpeername()", e.getpeername())?;

    heading("a listener whose accept queue is full: connects wait, then time out");
    let full = new_socket("full", None)?;
    show("full.bind(('127.0.0.1', 0))", full.bind(&inet(0)))?;
    show("full.listen(0)", full.listen(Some(&Value::Int(0))))?;
    let waiting = inet(port_of(&show("full.getsockname()", full.getsockname())?));
    let at = waiting.repr();
    let q = new_socket("q", None)?;
    show(&format!("q.connect({at})"), q.connect(&waiting))?;
    let t = new_socket("t", None)?;
    show("t.settimeout(1.0)", t.settimeout(&Value::Float(1.0)))?;
    let _ = show(&format!("t.connect({at})"), t.connect(&waiting));
    show(&format!("t.connect_ex({at})"), t.connect_ex(&waiting))?;

    heading("closing (the others close when they are dropped, as in CPython)");
    for (name, sock) in [("t", &t), ("s", &s), ("e", &e), ("srv", &srv)] {
        show(&format!("{name}.close()"), sock.close())?;
    }
    show("s.fileno()", Ok(s.fileno()))?;
    Ok(())
}

fn main() -> ExitCode {
    match tour() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "demo stopped by an unexpected {}: {}",
                err.exception, err.message
            );
            ExitCode::FAILURE
        }
    }
}
