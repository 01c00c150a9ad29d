//! The `socket` module's name service functions, as CPython 3.11 has them
//! (`Modules/socketmodule.c`: `socket_getaddrinfo`, `socket_gethostbyname`,
//! `socket_gethostbyname_ex`, `socket_gethostbyaddr`, `socket_getnameinfo`,
//! `socket_gethostname`, `socket_getservbyname`, `socket_getservbyport`):
//! argument handling and its messages, the audit events, then one host call.
//!
//! Divergences the interface forces:
//! - a `bytes` host or port is passed to the host's C library as a string,
//!   so one that is not UTF-8 is looked up as `gaierror(EAI_NONAME)` (a
//!   host) or `gaierror(EAI_SERVICE)` (a port) without a lookup;
//! - what Python's enum conversion adds (`AddressFamily.AF_INET`) is the
//!   binding's: the interface returns the ints.

use crate::addr;
use crate::audit::audit;
use crate::bindings::exports::nativesock::socket::socket::{Address, Addrinfo, Hostent, Value};
use crate::bindings::nativesock::socket::native::{self, AuditArg, AuditScalar, Sockaddr};
use crate::consts;
use crate::conv;
use crate::error::{self, PyResult, os_error_msg, overflow_error, type_error};

/// glibc's `gai_strerror(EAI_NONAME)` and `gai_strerror(EAI_SERVICE)`, for
/// the lookups the component refuses itself (a name that is not UTF-8).
const EAI_NONAME_TEXT: &str = "Name or service not known";
const EAI_SERVICE_TEXT: &str = "Servname not supported for ai_socktype";

/// A C string from Python bytes: cut at the first NUL, as C reads it.
fn c_str(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

/// `socket.getaddrinfo(host, port, family=0, type=0, proto=0, flags=0)`.
pub fn getaddrinfo(
    host: Value,
    port: Value,
    family: Option<&Value>,
    kind: Option<&Value>,
    proto: Option<&Value>,
    flags: Option<&Value>,
) -> PyResult<Vec<Addrinfo>> {
    // "OO|iiii:getaddrinfo": the ints are converted first, then the host
    // and the port, then the audit event (the order of 3.11.7).
    let family = conv::arg_i_or(family, 0)?;
    let kind = conv::arg_i_or(kind, 0)?;
    let proto = conv::arg_i_or(proto, 0)?;
    let flags = conv::arg_i_or(flags, 0)?;
    let hptr: Option<Vec<u8>> = match &host {
        Value::None => None,
        Value::Str(s) => Some(addr::idna_encode(s)?),
        Value::Bytes(b) => Some(b.clone()),
        _ => {
            return Err(type_error(
                "getaddrinfo() argument 1 must be string or None",
            ));
        }
    };
    // `PyLong_CheckExact` (a bool is not an int here), then `"%ld"` of
    // `PyLong_AsLong`.
    let pptr: Option<Vec<u8>> = match &port {
        Value::Int(_) | Value::BigInt(_) => Some(conv::as_long(&port)?.to_string().into_bytes()),
        Value::Str(s) => Some(s.as_bytes().to_vec()),
        Value::Bytes(b) => Some(b.clone()),
        Value::None => None,
        _ => return Err(os_error_msg("Int or String expected")),
    };
    audit("socket.getaddrinfo", || {
        vec![
            AuditArg::Scalar(addr::audit_scalar(&host)),
            AuditArg::Scalar(addr::audit_scalar(&port)),
            AuditArg::Scalar(AuditScalar::Int(family.into())),
            AuditArg::Scalar(AuditScalar::Int(kind.into())),
            AuditArg::Scalar(AuditScalar::Int(proto.into())),
        ]
    })?;
    let host =
        match &hptr {
            Some(b) => Some(std::str::from_utf8(c_str(b)).map_err(|_| {
                error::gaierror(consts::c("EAI_NONAME"), EAI_NONAME_TEXT.to_string())
            })?),
            None => None,
        };
    let port = match &pptr {
        Some(b) => Some(std::str::from_utf8(c_str(b)).map_err(|_| {
            error::gaierror(consts::c("EAI_SERVICE"), EAI_SERVICE_TEXT.to_string())
        })?),
        None => None,
    };
    let list =
        native::getaddrinfo(host, port, family, kind, proto, flags).map_err(error::from_gai)?;
    list.into_iter()
        .map(|ai| {
            Ok(Addrinfo {
                family: ai.family.into(),
                socket_type: ai.socket_type.into(),
                proto: ai.protocol.into(),
                canonname: ai.canonname.unwrap_or_default(),
                sockaddr: addr::makesockaddr(&ai.address)?.unwrap_or(Address::Scalar(Value::None)),
            })
        })
        .collect()
}

/// The `"et"` converter with the `idna` encoding, as `gethostbyname`,
/// `gethostbyname_ex` and `gethostbyaddr` parse their argument.
fn et_idna(func: &str, v: &Value) -> PyResult<Vec<u8>> {
    let (bytes, kind) = match v {
        Value::Str(s) => (addr::idna_encode(s)?, "str"),
        Value::Bytes(b) => (b.clone(), "bytes"),
        other => {
            return Err(type_error(format!(
                "{func}() argument 1 must be str, bytes or bytearray, not {}",
                conv::type_name(other)
            )));
        }
    };
    if bytes.contains(&0) {
        return Err(type_error(format!(
            "{func}() argument 1 must be encoded string without null bytes, not {kind}"
        )));
    }
    Ok(bytes)
}

/// The name for a host call; a name that is not UTF-8 cannot reach the
/// host's C library (`setipaddr` has already refused it as `EAI_NONAME`).
fn utf8(name: &[u8]) -> PyResult<&str> {
    std::str::from_utf8(name)
        .map_err(|_| error::gaierror(consts::c("EAI_NONAME"), EAI_NONAME_TEXT.to_string()))
}

/// `setipaddr()` on a C string argument.
fn setipaddr(name: &[u8], af: &str) -> PyResult<Sockaddr> {
    addr::setipaddr_bytes(name, consts::c(af))
}

/// `socket.gethostbyname(hostname)`: `setipaddr(name, AF_INET)`, then the
/// numeric address.
pub fn gethostbyname(hostname: Value) -> PyResult<String> {
    let name = et_idna("gethostbyname", &hostname)?;
    audit("socket.gethostbyname", || {
        vec![AuditArg::Scalar(addr::audit_scalar(&hostname))]
    })?;
    Ok(addr::ip_string(&setipaddr(&name, "AF_INET")?))
}

fn hostent(h: native::Hostent) -> Hostent {
    Hostent {
        hostname: h.name,
        aliaslist: h.aliases,
        ipaddrlist: h.addresses.iter().map(addr::ip_string).collect(),
    }
}

/// `socket.gethostbyname_ex(hostname)`: `setipaddr(name, AF_INET)` first
/// (its errors win), then `gethostbyname_r`.
pub fn gethostbyname_ex(hostname: Value) -> PyResult<Hostent> {
    let name = et_idna("gethostbyname_ex", &hostname)?;
    audit("socket.gethostbyname", || {
        vec![AuditArg::Scalar(addr::audit_scalar(&hostname))]
    })?;
    setipaddr(&name, "AF_INET")?;
    let h = native::gethostbyname(utf8(&name)?).map_err(error::from_host)?;
    Ok(hostent(h))
}

/// `socket.gethostbyaddr(ip_address)`: `setipaddr(name, AF_UNSPEC)`, then
/// `gethostbyaddr_r` on that address.
pub fn gethostbyaddr(ip_address: Value) -> PyResult<Hostent> {
    let name = et_idna("gethostbyaddr", &ip_address)?;
    audit("socket.gethostbyaddr", || {
        vec![AuditArg::Scalar(addr::audit_scalar(&ip_address))]
    })?;
    let sa = setipaddr(&name, "AF_UNSPEC")?;
    let h = native::gethostbyaddr(&sa).map_err(error::from_host)?;
    Ok(hostent(h))
}

/// `socket.getnameinfo(sockaddr, flags)` (L6660): the tuple's
/// `"si|II"` parse, the flowinfo range, the audit event, a numeric
/// `getaddrinfo` of the host, then `getnameinfo`.
pub fn getnameinfo(sockaddr: Address, flags: &Value) -> PyResult<(String, String)> {
    let flags = conv::arg_i(flags)?;
    let Address::Tuple(items) = &*addr::as_python(&sockaddr) else {
        return Err(type_error("getnameinfo() argument 1 must be a tuple"));
    };
    const ILLEGAL: &str = "getnameinfo(): illegal sockaddr argument";
    let (host, port, rest) = match items.as_slice() {
        [host, port, rest @ ..] if rest.len() <= 2 => (host, port, rest),
        _ => return Err(type_error(ILLEGAL)),
    };
    let Value::Str(host) = host else {
        return Err(type_error(ILLEGAL));
    };
    if host.contains('\0') {
        return Err(type_error(ILLEGAL));
    }
    let port = conv::arg_i(port)?;
    let mut ints = [0u32; 2];
    for (slot, v) in ints.iter_mut().zip(rest) {
        *slot = conv::arg_uint_mask(v)?;
    }
    let [flowinfo, scope_id] = ints;
    if flowinfo > 0xfffff {
        return Err(overflow_error("getnameinfo(): flowinfo must be 0-1048575."));
    }
    audit("socket.getnameinfo", || vec![addr::audit_arg(&sockaddr)])?;
    let list = native::getaddrinfo(
        Some(host),
        Some(&port.to_string()),
        consts::c("AF_UNSPEC"),
        consts::c("SOCK_DGRAM"),
        0,
        consts::c("AI_NUMERICHOST"),
    )
    .map_err(error::from_gai)?;
    let mut list = list.into_iter();
    let Some(first) = list.next() else {
        return Err(os_error_msg("sockaddr resolved to multiple addresses"));
    };
    if list.next().is_some() {
        return Err(os_error_msg("sockaddr resolved to multiple addresses"));
    }
    let sa = match first.address {
        a @ Sockaddr::Inet(_) => {
            if items.len() != 2 {
                return Err(os_error_msg("IPv4 sockaddr must be 2 tuple"));
            }
            a
        }
        Sockaddr::Inet6(mut a) => {
            a.flowinfo = flowinfo;
            a.scope_id = scope_id;
            Sockaddr::Inet6(a)
        }
        other => other,
    };
    native::getnameinfo(&sa, flags).map_err(error::from_gai)
}

/// `socket.gethostname()`.
pub fn gethostname() -> PyResult<String> {
    audit("socket.gethostname", Vec::new)?;
    native::gethostname().map_err(error::os_error)
}

/// `socket.getfqdn(name='')` (`Lib/socket.py` L781-803).
pub fn getfqdn(name: String) -> PyResult<String> {
    // `str.strip()`: Python's whitespace.
    let mut name = name.trim().to_string();
    if name.is_empty() || name == "0.0.0.0" || name == "::" {
        name = gethostname()?;
    }
    match gethostbyaddr(Value::Str(name.clone())) {
        Ok(h) => {
            let dotted = std::iter::once(&h.hostname)
                .chain(&h.aliaslist)
                .find(|n| n.contains('.'));
            Ok(dotted.unwrap_or(&h.hostname).clone())
        }
        // `except error: pass`
        Err(e) if crate::create::is_os_error(&e) => Ok(name),
        Err(e) => Err(e),
    }
}

/// `socket.getservbyname(servicename[, protocolname])`.
pub fn getservbyname(name: String, proto: Option<String>) -> PyResult<i64> {
    audit("socket.getservbyname", || {
        vec![
            AuditArg::Scalar(AuditScalar::Str(name.clone())),
            AuditArg::Scalar(proto.clone().map_or(AuditScalar::None, AuditScalar::Str)),
        ]
    })?;
    native::getservbyname(&name, proto.as_deref())
        .map(i64::from)
        .ok_or_else(|| os_error_msg("service/proto not found"))
}

/// `socket.getservbyport(port[, protocolname])`: `"i|s"`, then the range
/// check, then the audit event.
pub fn getservbyport(port: &Value, proto: Option<String>) -> PyResult<String> {
    let port = conv::arg_i(port)?;
    let port =
        u16::try_from(port).map_err(|_| overflow_error("getservbyport: port must be 0-65535."))?;
    audit("socket.getservbyport", || {
        vec![
            AuditArg::Scalar(AuditScalar::Int(port.into())),
            AuditArg::Scalar(proto.clone().map_or(AuditScalar::None, AuditScalar::Str)),
        ]
    })?;
    native::getservbyport(port, proto.as_deref())
        .ok_or_else(|| os_error_msg("port/proto not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn et_converter_messages() {
        assert_eq!(et_idna("f", &Value::Str("a.b".into())).unwrap(), b"a.b");
        assert_eq!(et_idna("f", &Value::Bytes(b"x".to_vec())).unwrap(), b"x");
        let msg = |v: Value| et_idna("gethostbyname", &v).unwrap_err().message;
        assert_eq!(
            msg(Value::Int(1)),
            "gethostbyname() argument 1 must be str, bytes or bytearray, not int"
        );
        assert_eq!(
            msg(Value::Str("a\0b".into())),
            "gethostbyname() argument 1 must be encoded string without null bytes, not str"
        );
        assert_eq!(
            msg(Value::Bytes(b"a\0".to_vec())),
            "gethostbyname() argument 1 must be encoded string without null bytes, not bytes"
        );
        assert_eq!(
            msg(Value::Str("a..b".into())),
            "encoding with 'idna' codec failed (UnicodeError: label empty or too long)"
        );
    }

    #[test]
    fn c_strings_stop_at_nul() {
        assert_eq!(c_str(b"80\0x"), b"80");
        assert_eq!(c_str(b"80"), b"80");
        assert_eq!(c_str(b""), b"");
    }
}
