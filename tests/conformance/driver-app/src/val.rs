//! The Python values a script passes and saves, and the exceptions a step
//! raises, with the conversions CPython applies to arguments.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use crate::bindings::nativesock::socket::socket as ns;
use crate::pyjson;

/// A Python value as the reference runner (`pyref.py`) sees it.
#[derive(Clone)]
pub enum Val {
    None,
    Bool(bool),
    /// Wider than the interface's `s64`; what does not fit crosses as a
    /// `big-int`.
    Int(i128),
    /// An int beyond `i128`, in decimal as the script wrote it.
    BigInt(String),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Val>),
    List(Vec<Val>),
    Socket(Rc<ns::Socket>),
}

impl Val {
    /// `type(v).__name__`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::None => "NoneType",
            Val::Bool(_) => "bool",
            Val::Int(_) | Val::BigInt(_) => "int",
            Val::Float(_) => "float",
            Val::Str(_) => "str",
            Val::Bytes(_) => "bytes",
            Val::Tuple(_) => "tuple",
            Val::List(_) => "list",
            Val::Socket(_) => "socket",
        }
    }

    /// The integer value of an int or a bool (an int subclass).
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Val::Int(i) => Some(*i),
            Val::Bool(b) => Some(i128::from(*b)),
            _ => None,
        }
    }

    /// `iter(v)`, for unpacking a result into several names.
    pub fn iterate(&self) -> Result<Vec<Val>, Raise> {
        match self {
            Val::Tuple(items) | Val::List(items) => Ok(items.clone()),
            Val::Bytes(b) => Ok(b.iter().map(|&x| Val::Int(x.into())).collect()),
            Val::Str(s) => Ok(s.chars().map(|c| Val::Str(c.into())).collect()),
            v => Err(Raise::type_error(format!(
                "'{}' object is not iterable",
                v.type_name()
            ))),
        }
    }

    /// `v[index]`.
    pub fn index(&self, index: &Val) -> Result<Val, Raise> {
        let (len, what) = match self {
            Val::Tuple(items) => (items.len(), "tuple"),
            Val::List(items) => (items.len(), "list"),
            Val::Bytes(b) => (b.len(), "bytes"),
            Val::Str(s) => (s.chars().count(), "string"),
            v => {
                return Err(Raise::type_error(format!(
                    "'{}' object is not subscriptable",
                    v.type_name()
                )));
            }
        };
        let Some(i) = index.as_int() else {
            let kind = if what == "string" { "string" } else { what };
            return Err(Raise::type_error(format!(
                "{kind} indices must be integers or slices, not {}",
                index.type_name()
            )));
        };
        let at = if i < 0 { i + len as i128 } else { i };
        let out_of_range = || {
            let msg = if what == "bytes" {
                "index out of range".into()
            } else {
                format!("{what} index out of range")
            };
            Raise::new("IndexError", msg)
        };
        let at = usize::try_from(at)
            .ok()
            .filter(|&a| a < len)
            .ok_or_else(out_of_range)?;
        Ok(match self {
            Val::Tuple(items) | Val::List(items) => items[at].clone(),
            Val::Bytes(b) => Val::Int(b[at].into()),
            Val::Str(s) => Val::Str(s.chars().nth(at).map(String::from).unwrap_or_default()),
            _ => unreachable!("checked above"),
        })
    }

    /// The value as the interface's `value`: an int outside `s64` as a
    /// `big-int`, a type the interface has no case for (tuple, list,
    /// socket) as an `object` of that type, which the component refuses
    /// with CPython's `TypeError`.
    pub fn to_wit(&self) -> ns::Value {
        match self {
            Val::None => ns::Value::None,
            Val::Bool(b) => ns::Value::Boolean(*b),
            Val::Int(i) => match i64::try_from(*i) {
                Ok(i) => ns::Value::Int(i),
                Err(_) => ns::Value::BigInt(i.to_string()),
            },
            Val::BigInt(digits) => ns::Value::BigInt(digits.clone()),
            Val::Float(f) => ns::Value::Float(*f),
            Val::Str(s) => ns::Value::Str(s.clone()),
            Val::Bytes(b) => ns::Value::Bytes(b.clone()),
            Val::Tuple(_) | Val::List(_) | Val::Socket(_) => {
                ns::Value::Object(self.type_name().into())
            }
        }
    }

    pub fn from_wit(v: ns::Value) -> Val {
        match v {
            ns::Value::None => Val::None,
            ns::Value::Boolean(b) => Val::Bool(b),
            ns::Value::Int(i) => Val::Int(i.into()),
            ns::Value::BigInt(digits) => match digits.parse::<i128>() {
                Ok(i) => Val::Int(i),
                Err(_) => Val::BigInt(digits),
            },
            // The component returns only plain values; an object it never
            // returns is shown by its type.
            ns::Value::Object(name) => Val::Str(format!("<{name} object>")),
            ns::Value::Float(f) => Val::Float(f),
            ns::Value::Str(s) => Val::Str(s),
            ns::Value::Bytes(b) => Val::Bytes(b),
        }
    }

    pub fn from_address(a: ns::Address) -> Val {
        match a {
            ns::Address::Tuple(items) => Val::Tuple(items.into_iter().map(Val::from_wit).collect()),
            ns::Address::List(items) => Val::List(items.into_iter().map(Val::from_wit).collect()),
            ns::Address::Scalar(v) => Val::from_wit(v),
            ns::Address::Inet(a) => {
                let (b0, b1, b2, b3) = a.octets;
                Val::Tuple(vec![
                    Val::Str(format!("{b0}.{b1}.{b2}.{b3}")),
                    Val::Int(a.port.into()),
                ])
            }
        }
    }
}

/// A Python exception: the `raise` of a result line.
#[derive(Debug, Clone, PartialEq)]
pub struct Raise {
    pub exception: String,
    pub errno: Option<i32>,
    pub message: String,
}

impl Raise {
    pub fn new(exception: &str, message: impl Into<String>) -> Raise {
        Raise {
            exception: exception.into(),
            errno: None,
            message: message.into(),
        }
    }

    pub fn type_error(message: impl Into<String>) -> Raise {
        Raise::new("TypeError", message)
    }

    pub fn overflow(message: impl Into<String>) -> Raise {
        Raise::new("OverflowError", message)
    }

    /// CPython's error for a non-int passed where an index is required.
    pub fn not_an_integer(v: &Val) -> Raise {
        Raise::type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            v.type_name()
        ))
    }

    /// CPython's error for a non-buffer passed where bytes are required.
    pub fn not_bytes(v: &Val) -> Raise {
        Raise::type_error(format!(
            "a bytes-like object is required, not '{}'",
            v.type_name()
        ))
    }
}

impl From<ns::Error> for Raise {
    fn from(e: ns::Error) -> Raise {
        Raise {
            exception: e.exception,
            errno: e.errno,
            message: e.message,
        }
    }
}

/// How a step failed: a Python exception, or a step the interface cannot express.
pub enum Fail {
    Raise(Raise),
    Unsupported(String),
}

impl<E: Into<Raise>> From<E> for Fail {
    fn from(e: E) -> Fail {
        Fail::Raise(e.into())
    }
}

/// The argument decoder: saved values and the AF_UNIX paths of this run.
pub struct Scope {
    pub saved: HashMap<String, Val>,
    /// Path string -> the `{"path": k}` key it came from.
    pub paths: HashMap<String, String>,
    pub tmpdir: String,
}

impl Scope {
    pub fn new(tmpdir: String) -> Scope {
        Scope {
            saved: HashMap::new(),
            paths: HashMap::new(),
            tmpdir,
        }
    }

    pub fn lookup(&self, name: &str) -> Result<&Val, Raise> {
        self.saved
            .get(name)
            .ok_or_else(|| Raise::new("KeyError", pyjson::repr_str(name)))
    }

    /// One argument, as `pyref.py`'s `decode` reads it.
    pub fn decode(&mut self, v: &serde_json::Value) -> Result<Val, Raise> {
        use serde_json::Value as J;
        Ok(match v {
            J::Null => Val::None,
            J::Bool(b) => Val::Bool(*b),
            J::Number(n) => number(n),
            J::String(s) => Val::Str(s.clone()),
            J::Array(items) => Val::Tuple(
                items
                    .iter()
                    .map(|x| self.decode(x))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(map) => {
                if let Some(name) = map.get("ref") {
                    let name = match name {
                        J::String(s) => s.as_str(),
                        other => return Err(Raise::new("KeyError", pyjson::repr_json(other))),
                    };
                    let mut val = self.lookup(name)?.clone();
                    if let Some(at) = map.get("at") {
                        for i in self.decode(at)?.iterate()? {
                            val = val.index(&i)?;
                        }
                    }
                    val
                } else if let Some(hex) = map.get("bytes") {
                    match hex {
                        J::String(s) => Val::Bytes(from_hex(s)?),
                        other => {
                            let t = self.decode(other)?.type_name();
                            return Err(Raise::type_error(format!(
                                "fromhex() argument must be str, not {t}"
                            )));
                        }
                    }
                } else if let Some(key) = map.get("path") {
                    let J::String(key) = key else {
                        let t = self.decode(key)?.type_name();
                        return Err(Raise::type_error(format!(
                            "join() argument must be str, bytes, or os.PathLike object, not '{t}'"
                        )));
                    };
                    let path = join(&self.tmpdir, key);
                    self.paths.insert(path.clone(), key.clone());
                    Val::Str(path)
                } else if let Some(name) = map.get("const") {
                    match name {
                        J::String(s) => Val::Int(constant(s)?.into()),
                        _ => return Err(Raise::type_error("attribute name must be string")),
                    }
                } else if let Some(f) = map.get("float") {
                    Val::Float(to_float(&self.decode(f)?)?)
                } else if let Some(items) = map.get("list") {
                    Val::List(self.decode(items)?.iterate()?)
                } else {
                    return Err(Raise::new(
                        "ValueError",
                        format!("unknown argument form {}", pyjson::repr_json(v)),
                    ));
                }
            }
        })
    }

    /// The JSON a result value is printed as (`pyref.py`'s `encode`).
    pub fn encode(&self, out: &mut String, v: &Val) {
        match v {
            Val::None => out.push_str("null"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Val::BigInt(digits) => out.push_str(digits),
            Val::Float(f) => out.push_str(&pyjson::float(*f)),
            Val::Str(s) => match self.paths.get(s) {
                Some(key) => {
                    out.push_str("{\"path\": ");
                    pyjson::string(out, key);
                    out.push('}');
                }
                None => pyjson::string(out, s),
            },
            Val::Bytes(b) => {
                out.push_str("{\"bytes\": \"");
                for x in b {
                    let _ = write!(out, "{x:02x}");
                }
                out.push_str("\"}");
            }
            Val::Tuple(items) | Val::List(items) => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.encode(out, x);
                }
                out.push(']');
            }
            Val::Socket(_) => out.push_str("{\"socket\": true}"),
        }
    }
}

/// A JSON number as Python's `json` reads it: an int of any size when it
/// is written without a fraction or an exponent, else a float.
fn number(n: &serde_json::Number) -> Val {
    let text = n.as_str();
    if !text.contains(['.', 'e', 'E']) {
        return match text.parse::<i128>() {
            Ok(i) => Val::Int(i),
            Err(_) => Val::BigInt(text.to_string()),
        };
    }
    Val::Float(n.as_f64().unwrap_or(f64::NAN))
}

/// `getattr(socket, name)` for an int constant, through the interface.
pub fn constant(name: &str) -> Result<i64, Raise> {
    ns::constant(name).ok_or_else(|| {
        Raise::new(
            "AttributeError",
            format!(
                "module 'socket' has no attribute {}",
                pyjson::repr_str(name)
            ),
        )
    })
}

/// `float(v)`.
pub fn to_float(v: &Val) -> Result<f64, Raise> {
    match v {
        Val::Float(f) => Ok(*f),
        Val::Int(_) | Val::Bool(_) => Ok(v.as_int().unwrap_or_default() as f64),
        Val::BigInt(digits) => digits
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| Raise::overflow("int too large to convert to float")),
        Val::Str(s) => {
            let t = s.trim();
            let t2 = t.replace('_', "");
            t2.parse::<f64>()
                .ok()
                .filter(|_| !t.starts_with('_') && !t.ends_with('_') && !t.contains("__"))
                .ok_or_else(|| {
                    Raise::new(
                        "ValueError",
                        format!("could not convert string to float: {}", pyjson::repr_str(s)),
                    )
                })
        }
        v => Err(Raise::type_error(format!(
            "float() argument must be a string or a real number, not '{}'",
            v.type_name()
        ))),
    }
}

/// `bytes.fromhex(s)`.
fn from_hex(s: &str) -> Result<Vec<u8>, Raise> {
    let chars: Vec<char> = s.chars().collect();
    let bad = |at: usize| {
        Raise::new(
            "ValueError",
            format!("non-hexadecimal number found in fromhex() arg at position {at}"),
        )
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let hi = chars[i].to_digit(16).ok_or_else(|| bad(i))?;
        let lo = chars
            .get(i + 1)
            .and_then(|c| c.to_digit(16))
            .ok_or_else(|| bad(i + 1))?;
        out.push((hi * 16 + lo) as u8);
        i += 2;
    }
    Ok(out)
}

/// `os.path.join(dir, name)`.
fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.into()
    } else if dir.is_empty() || dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fromhex_like_python() {
        assert_eq!(from_hex("6869 0a").unwrap(), b"hi\n");
        assert_eq!(
            from_hex("abc").unwrap_err().message,
            "non-hexadecimal number found in fromhex() arg at position 3"
        );
        assert_eq!(
            from_hex("a b").unwrap_err().message,
            "non-hexadecimal number found in fromhex() arg at position 1"
        );
    }

    #[test]
    fn join_like_python() {
        assert_eq!(join("/tmp/x", "a.sock"), "/tmp/x/a.sock");
        assert_eq!(join("/tmp/x/", "a.sock"), "/tmp/x/a.sock");
        assert_eq!(join("/tmp/x", "/abs"), "/abs");
    }

    #[test]
    fn index_like_python() {
        let t = Val::Tuple(vec![Val::Str("h".into()), Val::Int(5)]);
        assert!(matches!(t.index(&Val::Int(-1)), Ok(Val::Int(5))));
        assert_eq!(
            t.index(&Val::Int(2)).err().unwrap().message,
            "tuple index out of range"
        );
        assert_eq!(
            Val::None.index(&Val::Int(0)).err().unwrap().message,
            "'NoneType' object is not subscriptable"
        );
    }

    #[test]
    fn floats_parse_like_python() {
        assert!(to_float(&Val::Str("nan".into())).unwrap().is_nan());
        assert_eq!(
            to_float(&Val::Str("-inf".into())).unwrap(),
            f64::NEG_INFINITY
        );
        assert_eq!(to_float(&Val::Str(" 1_0.5 ".into())).unwrap(), 10.5);
        assert!(to_float(&Val::Str("x".into())).is_err());
    }
}
