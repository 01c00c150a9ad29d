//! One step: the `do` forms of SPEC.md, with CPython's signatures, and the
//! socket methods mapped onto `nativesock:socket/socket`.

use std::rc::Rc;
use std::time::Duration;

use crate::bindings::nativesock::socket::socket as ns;
use crate::val::{Fail, Raise, Scope, Val, constant};

/// Socket attributes that are read, not called (`pyref.py` ignores any `args`).
const ATTRIBUTES: &[&str] = &["family", "type", "proto", "timeout"];

/// Members of CPython's `socket.socket` that the interface has no counterpart for.
const NOT_IN_INTERFACE: &[&str] = &[
    "makefile",
    "sendmsg_afalg",
    "sendfile",
    "_accept",
    "__enter__",
    "__exit__",
    "__getstate__",
];

type Step = Result<Val, Fail>;

/// The parsed form of one script line.
pub struct Command<'a> {
    pub what: &'a str,
    pub args: &'a [serde_json::Value],
    pub kw: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl Scope {
    /// Runs one step, as `pyref.py`'s `run_step` does.
    pub fn run(&mut self, cmd: &Command<'_>) -> Step {
        let args = cmd
            .args
            .iter()
            .map(|a| self.decode(a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut kw = Vec::new();
        for (k, v) in cmd.kw.into_iter().flatten() {
            let mut v = self.decode(v)?;
            if let ("family" | "type", Val::Str(name)) = (k.as_str(), &v) {
                v = Val::Int(constant(name)?.into());
            }
            kw.push((k.as_str(), v));
        }
        match cmd.what {
            "socket" => socket(&kw),
            "socketpair" => socketpair(&kw),
            "setdefaulttimeout" => {
                let v = one_arg(&args, "_socket.setdefaulttimeout")?;
                ns::setdefaulttimeout(&v.to_wit())?;
                Ok(Val::None)
            }
            "getdefaulttimeout" => Ok(opt_float(ns::getdefaulttimeout())),
            "sleep" => {
                sleep(one_arg(&args, "time.sleep")?)?;
                Ok(Val::None)
            }
            _ => {
                let (name, member) = cmd.what.split_once('.').unwrap_or((cmd.what, ""));
                match self.lookup(name)? {
                    Val::Socket(s) => method(s, member, &args),
                    other => Err(Raise::new(
                        "AttributeError",
                        format!(
                            "'{}' object has no attribute {}",
                            other.type_name(),
                            crate::pyjson::repr_str(member)
                        ),
                    )
                    .into()),
                }
            }
        }
    }
}

/// `socket.socket(family=-1, type=-1, proto=-1, fileno=None)`.
fn socket(kw: &[(&str, Val)]) -> Step {
    let (mut family, mut ty, mut proto, mut fileno) = (None, None, None, None);
    for (k, v) in kw {
        match *k {
            "family" => family = Some(v),
            "type" => ty = Some(v),
            "proto" => proto = Some(v),
            "fileno" => fileno = Some(v),
            other => {
                return Err(Raise::type_error(format!(
                    "socket.__init__() got an unexpected keyword argument {}",
                    crate::pyjson::repr_str(other)
                ))
                .into());
            }
        }
    }
    let [family, ty, proto, fileno] = [family, ty, proto, fileno].map(|v| v.map(Val::to_wit));
    Ok(Val::Socket(Rc::new(ns::Socket::create(
        family.as_ref(),
        ty.as_ref(),
        proto.as_ref(),
        fileno.as_ref(),
    )?)))
}

/// `socket.socketpair(family=None, type=SOCK_STREAM, proto=0)`.
fn socketpair(kw: &[(&str, Val)]) -> Step {
    let (mut family, mut ty, mut proto) = (None, None, None);
    for (k, v) in kw {
        match *k {
            "family" => family = Some(v),
            "type" => ty = Some(v),
            "proto" => proto = Some(v),
            other => {
                return Err(Raise::type_error(format!(
                    "socketpair() got an unexpected keyword argument {}",
                    crate::pyjson::repr_str(other)
                ))
                .into());
            }
        }
    }
    let [family, ty, proto] = [family, ty, proto].map(|v| v.map(Val::to_wit));
    let (a, b) = ns::socketpair(family.as_ref(), ty.as_ref(), proto.as_ref())?;
    Ok(Val::Tuple(vec![
        Val::Socket(Rc::new(a)),
        Val::Socket(Rc::new(b)),
    ]))
}

/// `time.sleep(secs)`.
fn sleep(v: &Val) -> Result<(), Raise> {
    let secs = match v {
        Val::Float(f) => *f,
        Val::BigInt(_) => {
            return Err(Raise::overflow(
                "timestamp too large to convert to C _PyTime_t",
            ));
        }
        Val::Int(i) if i.unsigned_abs() > (i64::MAX as u128) / 1_000_000_000 => {
            return Err(Raise::overflow(
                "timestamp too large to convert to C _PyTime_t",
            ));
        }
        v => v.as_int().ok_or_else(|| Raise::not_an_integer(v))? as f64,
    };
    if secs.is_nan() {
        return Err(Raise::new("ValueError", "Invalid value NaN (not a number)"));
    }
    if secs < 0.0 {
        return Err(Raise::new(
            "ValueError",
            "sleep length must be non-negative",
        ));
    }
    let d = Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| d.as_secs() < i64::MAX as u64 / 1_000_000_000)
        .ok_or_else(|| Raise::overflow("timestamp out of range for platform time_t"))?;
    std::thread::sleep(d);
    Ok(())
}

/// `sock.<member>(*args)`.
fn method(s: &ns::Socket, member: &str, args: &[Val]) -> Step {
    let n = args.len();
    let sock = |s: ns::Socket| Val::Socket(Rc::new(s));
    // Arity errors, spelled as CPython spells them for each kind of method.
    let exactly_one = || {
        if n == 1 {
            Ok(&args[0])
        } else {
            Err(Raise::type_error(format!(
                "socket.{member}() takes exactly one argument ({n} given)"
            )))
        }
    };
    let no_args_c = || {
        if n == 0 {
            Ok(())
        } else {
            Err(Raise::type_error(format!(
                "socket.{member}() takes no arguments ({n} given)"
            )))
        }
    };
    let no_args_py = || {
        if n == 0 {
            Ok(())
        } else {
            Err(Raise::type_error(format!(
                "socket.{member}() takes 1 positional argument but {} were given",
                n + 1
            )))
        }
    };
    let between = |lo: usize, hi: usize| {
        let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
        if n < lo {
            Err(Raise::type_error(format!(
                "{member}() takes at least {lo} {} ({n} given)",
                plural(lo)
            )))
        } else if n > hi {
            Err(Raise::type_error(format!(
                "{member}() takes at most {hi} {} ({n} given)",
                plural(hi)
            )))
        } else {
            Ok(())
        }
    };
    match member {
        m if ATTRIBUTES.contains(&m) => Ok(match m {
            "family" => Val::Int(s.family().into()),
            "type" => Val::Int(s.type_().into()),
            "proto" => Val::Int(s.proto().into()),
            _ => opt_float(s.timeout()),
        }),
        "fileno" => {
            no_args_c()?;
            Ok(Val::Int(s.fileno().into()))
        }
        "gettimeout" => {
            no_args_c()?;
            Ok(opt_float(s.gettimeout()))
        }
        "getblocking" => {
            no_args_c()?;
            Ok(Val::Bool(s.getblocking()))
        }
        "getsockname" => {
            no_args_c()?;
            Ok(Val::from_address(s.getsockname()?))
        }
        "getpeername" => {
            no_args_c()?;
            Ok(Val::from_address(s.getpeername()?))
        }
        "close" => {
            no_args_py()?;
            s.close()?;
            Ok(Val::None)
        }
        "detach" => {
            no_args_py()?;
            Ok(Val::Int(s.detach().into()))
        }
        "dup" => {
            no_args_py()?;
            Ok(sock(s.dup()?))
        }
        "get_inheritable" => {
            no_args_py()?;
            Ok(Val::Bool(s.get_inheritable()?))
        }
        "accept" => {
            no_args_py()?;
            let (conn, addr) = s.accept()?;
            Ok(Val::Tuple(vec![sock(conn), Val::from_address(addr)]))
        }
        "__repr__" | "__str__" => {
            no_args_py()?;
            Ok(Val::Str(s.repr()))
        }
        "set_inheritable" => {
            if n != 1 {
                return Err(Raise::type_error(if n == 0 {
                    "socket.set_inheritable() missing 1 required positional argument: 'inheritable'"
                        .to_string()
                } else {
                    format!(
                        "socket.set_inheritable() takes 2 positional arguments but {} were given",
                        n + 1
                    )
                })
                .into());
            }
            // `os.set_inheritable(fd, inheritable)` reads the flag as a C int.
            let flag = match &args[0] {
                Val::BigInt(_) => Err(Raise::overflow("Python int too large to convert to C int")),
                v => c_int(v, "Python int too large to convert to C int"),
            }?;
            s.set_inheritable(flag != 0)?;
            Ok(Val::None)
        }
        "settimeout" => {
            s.settimeout(&exactly_one()?.to_wit())?;
            Ok(Val::None)
        }
        "setblocking" => {
            s.setblocking(&exactly_one()?.to_wit())?;
            Ok(Val::None)
        }
        "connect" => {
            let a = exactly_one()?;
            s.connect(&address(a))?;
            Ok(Val::None)
        }
        "connect_ex" => {
            let a = exactly_one()?;
            let errno = s.connect_ex(&address(a))?;
            Ok(Val::Int(errno.into()))
        }
        "bind" => {
            let a = exactly_one()?;
            s.bind(&address(a))?;
            Ok(Val::None)
        }
        "shutdown" => {
            s.shutdown(&exactly_one()?.to_wit())?;
            Ok(Val::None)
        }
        "listen" => {
            if n > 1 {
                return Err(Raise::type_error(format!(
                    "listen() takes at most 1 argument ({n} given)"
                ))
                .into());
            }
            let backlog = args.first().map(Val::to_wit);
            s.listen(backlog.as_ref())?;
            Ok(Val::None)
        }
        "send" | "sendall" => {
            between(1, 2)?;
            let data = bytes(&args[0])?;
            let flags = args.get(1).map(Val::to_wit);
            if member == "send" {
                Ok(Val::Int(s.send(data, flags.as_ref())?.into()))
            } else {
                s.sendall(data, flags.as_ref())?;
                Ok(Val::None)
            }
        }
        "recv" | "recvfrom" => {
            between(1, 2)?;
            let bufsize = args[0].to_wit();
            let flags = args.get(1).map(Val::to_wit);
            if member == "recv" {
                Ok(Val::Bytes(s.recv(&bufsize, flags.as_ref())?))
            } else {
                let (data, addr) = s.recvfrom(&bufsize, flags.as_ref())?;
                Ok(Val::Tuple(vec![
                    Val::Bytes(data),
                    addr.map_or(Val::None, Val::from_address),
                ]))
            }
        }
        "sendto" => {
            if !(2..=3).contains(&n) {
                return Err(Raise::type_error(format!(
                    "sendto() takes 2 or 3 arguments ({n} given)"
                ))
                .into());
            }
            let data = bytes(&args[0])?;
            let flags = if n == 3 { Some(args[1].to_wit()) } else { None };
            let sent = s.sendto(data, flags.as_ref(), &address(&args[n - 1]))?;
            Ok(Val::Int(sent.into()))
        }
        "getsockopt" => {
            between(2, 3)?;
            let buflen = args.get(2).map(Val::to_wit);
            Ok(
                match s.getsockopt(&args[0].to_wit(), &args[1].to_wit(), buflen.as_ref())? {
                    ns::SockoptValue::Int(i) => Val::Int(i.into()),
                    ns::SockoptValue::Bytes(b) => Val::Bytes(b),
                },
            )
        }
        "setsockopt" => setsockopt(s, args),
        "recv_into" | "recvfrom_into" => {
            between(1, 3)?;
            // JSON scripts have no writable buffer (`bytearray`): every
            // buffer they can pass is refused as CPython's `"w*"` refuses it.
            Err(Raise::type_error(format!(
                "{member}() argument 1 must be read-write bytes-like object, not {}",
                args[0].type_name()
            ))
            .into())
        }
        "recvmsg" | "recvmsg_into" => {
            between(1, 3)?;
            let ancbufsize = args.get(1).map(Val::to_wit);
            let flags = args.get(2).map(Val::to_wit);
            let (ancbufsize, flags) = (ancbufsize.as_ref(), flags.as_ref());
            let msg = if member == "recvmsg" {
                s.recvmsg(&args[0].to_wit(), ancbufsize, flags)?
            } else {
                let items = args[0].iterate().map_err(|_| {
                    Raise::type_error("recvmsg_into() argument 1 must be an iterable")
                })?;
                if !items.is_empty() {
                    return Err(Raise::type_error(
                        "recvmsg_into() argument 1 must be an iterable of single-segment read-write buffers",
                    )
                    .into());
                }
                s.recvmsg_into(&[], ancbufsize, flags)?
            };
            let ancdata = msg
                .ancdata
                .into_iter()
                .map(|a| {
                    Val::Tuple(vec![
                        Val::Int(a.level.into()),
                        Val::Int(a.kind.into()),
                        Val::Bytes(a.data),
                    ])
                })
                .collect();
            let first = if member == "recvmsg" {
                Val::Bytes(msg.data)
            } else {
                Val::Int(msg.nbytes.into())
            };
            Ok(Val::Tuple(vec![
                first,
                Val::List(ancdata),
                Val::Int(msg.msg_flags.into()),
                msg.address.map_or(Val::None, Val::from_address),
            ]))
        }
        "sendmsg" => sendmsg(s, args),
        m if NOT_IN_INTERFACE.contains(&m) => Err(Fail::Unsupported(format!(
            "`socket.{m}` has no counterpart in nativesock:socket/socket"
        ))),
        m => Err(Raise::new(
            "AttributeError",
            format!(
                "'socket' object has no attribute {}",
                crate::pyjson::repr_str(m)
            ),
        )
        .into()),
    }
}

/// `sendmsg(buffers[, ancdata[, flags[, address]]])`.
fn sendmsg(s: &ns::Socket, args: &[Val]) -> Step {
    let n = args.len();
    if !(1..=4).contains(&n) {
        return Err(Raise::type_error(if n == 0 {
            "sendmsg expected at least 1 argument, got 0".to_string()
        } else {
            format!("sendmsg expected at most 4 arguments, got {n}")
        })
        .into());
    }
    let flags = args.get(2).map(Val::to_wit);
    let addr_arg = args.get(3).filter(|a| !matches!(a, Val::None));
    let buffers = args[0]
        .iterate()
        .map_err(|_| Raise::type_error("sendmsg() argument 1 must be an iterable"))?
        .iter()
        .map(|b| bytes(b).map(<[u8]>::to_vec))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ancdata = Vec::new();
    if let Some(items) = args.get(1) {
        let items = items
            .iterate()
            .map_err(|_| Raise::type_error("sendmsg() argument 2 must be an iterable"))?;
        for item in items {
            let parts = match &item {
                Val::Tuple(p) | Val::List(p) => p.clone(),
                v => {
                    return Err(Raise::type_error(format!(
                        "[sendmsg() ancillary data items]() argument must be 3-item sequence, not {}",
                        v.type_name()
                    ))
                    .into());
                }
            };
            let [level, kind, data] = <[Val; 3]>::try_from(parts).map_err(|p| {
                Raise::type_error(format!(
                    "[sendmsg() ancillary data items]() argument must be sequence of length 3, not {}",
                    p.len()
                ))
            })?;
            ancdata.push(ns::AncillaryItem {
                level: level.to_wit(),
                kind: kind.to_wit(),
                data: bytes(&data)?.to_vec(),
            });
        }
    }
    let address = addr_arg.map(address);
    let sent = s.sendmsg(&buffers, &ancdata, flags.as_ref(), address.as_ref())?;
    Ok(Val::Int(sent.into()))
}

/// `setsockopt(level, optname, value)` or `setsockopt(level, optname, None,
/// optlen)`: the component tries CPython's three formats.
fn setsockopt(s: &ns::Socket, args: &[Val]) -> Step {
    let n = args.len();
    if !(3..=4).contains(&n) {
        return Err(Raise::type_error(format!(
            "setsockopt() takes exactly 3 arguments ({n} given)"
        ))
        .into());
    }
    let optlen = args.get(3).map(Val::to_wit);
    s.setsockopt(
        &args[0].to_wit(),
        &args[1].to_wit(),
        &args[2].to_wit(),
        optlen.as_ref(),
    )?;
    Ok(Val::None)
}

fn one_arg<'a>(args: &'a [Val], func: &str) -> Result<&'a Val, Raise> {
    match args {
        [v] => Ok(v),
        _ => Err(Raise::type_error(format!(
            "{func}() takes exactly one argument ({} given)",
            args.len()
        ))),
    }
}

fn opt_float(f: Option<f64>) -> Val {
    f.map_or(Val::None, Val::Float)
}

/// An int argument read as a C int (`_PyLong_AsInt`), for
/// `os.set_inheritable`, which is not the interface's.
fn c_int(v: &Val, too_large: &str) -> Result<i32, Raise> {
    let i = v.as_int().ok_or_else(|| Raise::not_an_integer(v))?;
    i32::try_from(i).map_err(|_| Raise::overflow(too_large))
}

fn bytes(v: &Val) -> Result<&[u8], Raise> {
    match v {
        Val::Bytes(b) => Ok(b),
        v => Err(Raise::not_bytes(v)),
    }
}

/// The `address` of a Python value: a JSON array is a tuple, `{"list": ...}`
/// a list, anything else a scalar. A nested tuple or list, or a socket,
/// crosses as an `object` of its type.
fn address(v: &Val) -> ns::Address {
    match v {
        Val::Tuple(items) => ns::Address::Tuple(items.iter().map(Val::to_wit).collect()),
        Val::List(items) => ns::Address::List(items.iter().map(Val::to_wit).collect()),
        v => ns::Address::Scalar(v.to_wit()),
    }
}
