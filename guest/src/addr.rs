//! Socket addresses as CPython 3.11 reads and writes them
//! (`Modules/socketmodule.c`: `getsockaddrarg`, `idna_converter`,
//! `setipaddr`, `makesockaddr`).
//!
//! Everything that needs no host call is a plain function of its inputs
//! (the host's constants are passed in as [`Families`], name lookups go
//! through a [`Resolver`]), so the rules and messages are unit-tested
//! natively; the public functions only bind those to the host.
//!
//! Divergences from CPython that the interfaces force:
//! - a `bytes` host or AF_UNIX path arrives as `bytes` whatever it was in
//!   Python (bytes, bytearray, memoryview), so a memoryview host is accepted
//!   where CPython says `str, bytes or bytearray expected, not memoryview`;
//! - a `bytes` host name that is not UTF-8 (and not a numeric address)
//!   cannot be handed to the host's `getaddrinfo`, which takes a string: it
//!   fails as `gaierror(EAI_NONAME, 'Name or service not known')` without a
//!   lookup;
//! - `makesockaddr` returns an AF_UNIX path that is not valid UTF-8 as
//!   `bytes` (CPython returns a `str` with surrogate escapes, which a WIT
//!   string cannot carry);
//! - families other than AF_INET, AF_INET6 and AF_UNIX are `bad family`
//!   here, where CPython also parses AF_NETLINK, AF_PACKET, AF_CAN and
//!   friends.

mod idna;
#[rustfmt::skip]
mod idna_tables;
mod inet;
#[cfg(test)]
#[rustfmt::skip]
mod inet_vectors;

use std::borrow::Cow;

use crate::bindings::exports::nativesock::socket::socket::{self as exported, Address, Value};
use crate::bindings::nativesock::socket::native::{
    self, AuditArg, AuditScalar, Inet6Address, InetAddress, Sockaddr,
};
use crate::consts;
use crate::error::{self, PyResult, os_error_msg, overflow_error, type_error};

/// `sizeof(((struct sockaddr_un *)0)->sun_path)` on Linux, used when the
/// host does not report `SUN_PATH_SIZE` among its constants.
pub const LINUX_SUN_PATH_SIZE: usize = 108;

/// glibc's `gai_strerror(EAI_NONAME)`, for the one lookup the guest refuses
/// itself (a host name that is not UTF-8).
const EAI_NONAME_TEXT: &str = "Name or service not known";

// ---------------------------------------------------------------------------
// Public API, bound to the host.
// ---------------------------------------------------------------------------

/// CPython's `getsockaddrarg()`: validate, convert and resolve `addr` for a
/// socket of `family` (the host's value, e.g. `consts::c("AF_INET")`), for
/// `caller` (`"connect"`, `"connect_ex"`, `"bind"`, `"sendto"`,
/// `"sendmsg"`). Errors are CPython's exceptions to the letter, in
/// CPython's order.
pub fn getsockaddrarg(family: i32, addr: &Address, caller: &str) -> PyResult<Sockaddr> {
    let fams = Families::host();
    sockaddr_arg(
        fams.kind(family),
        addr,
        caller,
        &fams,
        sun_path_size(),
        &mut HostResolver,
    )
}

/// CPython's `makesockaddr()`: the Python value of an address the kernel
/// returned (getsockname/getpeername/accept/recvfrom). `None` where CPython
/// returns None (an empty address: `Sockaddr::Unspec`).
pub fn makesockaddr(sa: &Sockaddr) -> PyResult<Option<Address>> {
    Ok(make_sockaddr(sa))
}

/// CPython's `setipaddr()`: resolve a host name for `family` (AF_INET,
/// AF_INET6 or AF_UNSPEC) into an address with port 0.
pub fn setipaddr(name: &str, family: i32) -> PyResult<Sockaddr> {
    set_ip_addr(
        name.as_bytes(),
        family,
        &Families::host(),
        &mut HostResolver,
    )
}

/// The caller's original address object as an audit argument
/// (`socket.connect` passes `('localhost', 80)` unresolved). A list (which
/// never passes `getsockaddrarg`) is shown as a tuple.
pub fn audit_arg(addr: &Address) -> AuditArg {
    match &*as_python(addr) {
        Address::Tuple(items) | Address::List(items) => {
            AuditArg::Tuple(items.iter().map(audit_scalar).collect())
        }
        Address::Scalar(v) => AuditArg::Scalar(audit_scalar(v)),
        Address::Inet(_) => unreachable!("as_python returns no inet address"),
    }
}

/// CPython's `idna_converter()` (the `O&` converter of AF_INET and AF_INET6
/// hosts): the host name as C bytes. A `str` that is not pure ASCII is IDNA
/// 2003 encoded, as `str.encode("idna")` does.
pub fn idna_converter(host: &Value) -> PyResult<Vec<u8>> {
    let buf = match host {
        Value::Bytes(b) => b.clone(),
        Value::Str(s) if s.is_ascii() => s.as_bytes().to_vec(),
        Value::Str(s) => {
            idna::encode(s).ok_or_else(|| type_error("encoding of hostname failed"))?
        }
        other => {
            return Err(type_error(format!(
                "str, bytes or bytearray expected, not {}",
                crate::conv::type_name(other)
            )));
        }
    };
    if buf.contains(&0) {
        return Err(type_error("host name must not contain null character"));
    }
    Ok(buf)
}

/// The host's `sun_path` size.
fn sun_path_size() -> usize {
    consts::get("SUN_PATH_SIZE")
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(LINUX_SUN_PATH_SIZE)
}

/// Name lookups on the host: `getaddrinfo` as `setipaddr` calls it.
struct HostResolver;

impl Resolver for HostResolver {
    fn wildcard(&mut self, af: i32) -> PyResult<Vec<Sockaddr>> {
        native::getaddrinfo(
            None,
            Some("0"),
            af,
            consts::c("SOCK_DGRAM"),
            0,
            consts::c("AI_PASSIVE"),
        )
        .map(|list| list.into_iter().map(|ai| ai.address).collect())
        .map_err(error::from_gai)
    }

    fn lookup(&mut self, name: &str, af: i32) -> PyResult<Vec<Sockaddr>> {
        native::getaddrinfo(Some(name), None, af, 0, 0, 0)
            .map(|list| list.into_iter().map(|ai| ai.address).collect())
            .map_err(error::from_gai)
    }

    fn eai_noname(&self) -> i32 {
        consts::c("EAI_NONAME")
    }
}

// ---------------------------------------------------------------------------
// The host-independent core.
// ---------------------------------------------------------------------------

/// The host's address family numbers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Families {
    pub unspec: i32,
    pub inet: i32,
    pub inet6: i32,
    pub unix: i32,
}

/// The address families `getsockaddrarg` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Inet,
    Inet6,
    Unix,
    Other,
}

impl Families {
    /// The host's values, looked up once per store (every `connect`,
    /// `bind` and `sendto` converts an address).
    fn host() -> Self {
        static HOST: std::sync::OnceLock<Families> = std::sync::OnceLock::new();
        *HOST.get_or_init(|| Families {
            unspec: consts::c("AF_UNSPEC"),
            inet: consts::c("AF_INET"),
            inet6: consts::c("AF_INET6"),
            unix: consts::c("AF_UNIX"),
        })
    }

    /// Linux's values, for tests.
    #[cfg(test)]
    pub(crate) const LINUX: Families = Families {
        unspec: 0,
        inet: 2,
        inet6: 10,
        unix: 1,
    };

    pub(crate) fn kind(&self, family: i32) -> Kind {
        if family == self.inet {
            Kind::Inet
        } else if family == self.inet6 {
            Kind::Inet6
        } else if family == self.unix {
            Kind::Unix
        } else {
            Kind::Other
        }
    }
}

/// The address as the Python object it stands for: an `inet` address (the
/// form the component returns `AF_INET` addresses in) as CPython's
/// `(host, port)` tuple; any other as it is.
pub fn as_python(addr: &Address) -> Cow<'_, Address> {
    match addr {
        Address::Inet(a) => {
            let (b0, b1, b2, b3) = a.octets;
            Cow::Owned(Address::Tuple(vec![
                Value::Str(inet::ntop4([b0, b1, b2, b3])),
                Value::Int(i64::from(a.port)),
            ]))
        }
        other => Cow::Borrowed(other),
    }
}

/// The name lookups `setipaddr` makes.
pub(crate) trait Resolver {
    /// `getaddrinfo(NULL, "0", {af, SOCK_DGRAM, AI_PASSIVE})`: the addresses.
    fn wildcard(&mut self, af: i32) -> PyResult<Vec<Sockaddr>>;
    /// `getaddrinfo(name, NULL, {af})`: the addresses.
    fn lookup(&mut self, name: &str, af: i32) -> PyResult<Vec<Sockaddr>>;
    /// The host's `EAI_NONAME`.
    fn eai_noname(&self) -> i32;
}

fn address_type_name(addr: &Address) -> &str {
    match addr {
        Address::Tuple(_) => "tuple",
        Address::List(_) => "list",
        Address::Scalar(v) => crate::conv::type_name(v),
        Address::Inet(_) => "tuple",
    }
}

/// A plain Python value as an audit argument.
pub(crate) fn audit_scalar(v: &Value) -> AuditScalar {
    match v {
        Value::None => AuditScalar::None,
        Value::Boolean(b) => AuditScalar::Boolean(*b),
        Value::Int(i) => AuditScalar::Int(*i),
        Value::Float(f) => AuditScalar::Float(*f),
        Value::Str(s) => AuditScalar::Str(s.clone()),
        Value::Bytes(b) => AuditScalar::Bytes(b.clone()),
        Value::BigInt(digits) => AuditScalar::BigInt(digits.clone()),
        Value::Object(type_name) => AuditScalar::Object(type_name.clone()),
    }
}

/// How a `PyArg_ParseTuple` integer converter failed.
enum IntError {
    /// A TypeError, already worded.
    Type(crate::bindings::exports::nativesock::socket::socket::Error),
    /// An OverflowError (which getsockaddrarg rewords).
    Overflow,
}

/// The `i` converter: a C int; any overflow (past a C long too) is the
/// one `getsockaddrarg` rewords.
fn convert_i(v: &Value) -> Result<i32, IntError> {
    match crate::conv::index(v).map_err(IntError::Type)? {
        crate::conv::PyInt::Long(i) => i32::try_from(i).map_err(|_| IntError::Overflow),
        crate::conv::PyInt::Big { .. } => Err(IntError::Overflow),
    }
}

/// The `I` converter: an unsigned int, masked without overflow checking.
fn convert_unsigned_mask(v: &Value) -> Result<u32, IntError> {
    crate::conv::arg_uint_mask(v).map_err(IntError::Type)
}

fn port_range_error(caller: &str) -> crate::bindings::exports::nativesock::socket::socket::Error {
    overflow_error(format!("{caller}(): port must be 0-65535."))
}

/// `getsockaddrarg()` on host-independent terms.
pub(crate) fn sockaddr_arg(
    kind: Kind,
    addr: &Address,
    caller: &str,
    fams: &Families,
    sun_path_size: usize,
    resolver: &mut impl Resolver,
) -> PyResult<Sockaddr> {
    let addr = &*as_python(addr);
    match kind {
        Kind::Unix => unix_arg(addr, sun_path_size).map(Sockaddr::Unix),
        Kind::Inet => {
            let Address::Tuple(items) = addr else {
                return Err(type_error(format!(
                    "{caller}(): AF_INET address must be tuple, not {}",
                    address_type_name(addr)
                )));
            };
            const FORMAT: &str = "AF_INET address must be a pair (host, port)";
            let [host, port] = items.as_slice() else {
                return Err(type_error(FORMAT));
            };
            let host = idna_converter(host)?;
            let port = match convert_i(port) {
                Ok(p) => p,
                Err(IntError::Type(e)) => return Err(e),
                Err(IntError::Overflow) => return Err(port_range_error(caller)),
            };
            let resolved = set_ip_addr(&host, fams.inet, fams, resolver)?;
            let port = u16::try_from(port).map_err(|_| port_range_error(caller))?;
            match resolved {
                Sockaddr::Inet(a) => Ok(Sockaddr::Inet(InetAddress { addr: a.addr, port })),
                _ => Err(os_error_msg("unknown address family")),
            }
        }
        Kind::Inet6 => {
            let Address::Tuple(items) = addr else {
                return Err(type_error(format!(
                    "{caller}(): AF_INET6 address must be tuple, not {}",
                    address_type_name(addr)
                )));
            };
            const FORMAT: &str =
                "AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])";
            let (host, port, rest) = match items.as_slice() {
                [host, port, rest @ ..] if rest.len() <= 2 => (host, port, rest),
                _ => return Err(type_error(FORMAT)),
            };
            let host = idna_converter(host)?;
            let mut ints = [0u32; 2];
            let port = convert_i(port).and_then(|port| {
                for (slot, v) in ints.iter_mut().zip(rest) {
                    *slot = convert_unsigned_mask(v)?;
                }
                Ok(port)
            });
            let port = match port {
                Ok(p) => p,
                Err(IntError::Type(e)) => return Err(e),
                Err(IntError::Overflow) => return Err(port_range_error(caller)),
            };
            let [flowinfo, scope_id] = ints;
            let resolved = set_ip_addr(&host, fams.inet6, fams, resolver)?;
            let port = u16::try_from(port).map_err(|_| port_range_error(caller))?;
            if flowinfo > 0xfffff {
                return Err(overflow_error(format!(
                    "{caller}(): flowinfo must be 0-1048575."
                )));
            }
            match resolved {
                Sockaddr::Inet6(a) => Ok(Sockaddr::Inet6(Inet6Address {
                    addr: a.addr,
                    port,
                    flowinfo,
                    scope_id,
                })),
                _ => Err(os_error_msg("unknown address family")),
            }
        }
        Kind::Other => Err(os_error_msg(format!("{caller}(): bad family"))),
    }
}

/// The AF_UNIX case of `getsockaddrarg()`: the `sun_path` bytes.
pub(crate) fn unix_arg(addr: &Address, sun_path_size: usize) -> PyResult<Vec<u8>> {
    let path = match addr {
        // PEP 383: str is fs-encoded (UTF-8; a WIT string has no surrogates).
        Address::Scalar(Value::Str(s)) => s.as_bytes().to_vec(),
        Address::Scalar(Value::Bytes(b)) => b.clone(),
        other => {
            return Err(type_error(format!(
                "a bytes-like object is required, not '{}'",
                address_type_name(other)
            )));
        }
    };
    let too_long = if path.first().is_none_or(|&b| b == 0) {
        // Linux abstract namespace, or empty (autobind).
        path.len() > sun_path_size
    } else {
        // A NUL-terminated path.
        path.len() >= sun_path_size
    };
    if too_long {
        return Err(os_error_msg("AF_UNIX path too long"));
    }
    Ok(path)
}

fn inet(addr: [u8; 4]) -> Sockaddr {
    Sockaddr::Inet(InetAddress {
        addr: (addr[0], addr[1], addr[2], addr[3]),
        port: 0,
    })
}

fn inet6(w: [u16; 8]) -> Sockaddr {
    Sockaddr::Inet6(Inet6Address {
        addr: (w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]),
        port: 0,
        flowinfo: 0,
        scope_id: 0,
    })
}

/// `setipaddr()` on host-independent terms: `name` is the C string.
pub(crate) fn set_ip_addr(
    name: &[u8],
    af: i32,
    fams: &Families,
    resolver: &mut impl Resolver,
) -> PyResult<Sockaddr> {
    if name.is_empty() {
        let mut res = resolver.wildcard(af)?.into_iter();
        let first = match res.next() {
            Some(a @ (Sockaddr::Inet(_) | Sockaddr::Inet6(_))) => a,
            _ => return Err(os_error_msg("unsupported address family")),
        };
        if res.next().is_some() {
            return Err(os_error_msg("wildcard resolved to multiple address"));
        }
        return Ok(first);
    }
    if name == b"255.255.255.255" || name == b"<broadcast>" {
        if af != fams.inet && af != fams.unspec {
            return Err(os_error_msg("address family mismatched"));
        }
        return Ok(inet([255; 4]));
    }
    // Avoid a name resolution for a numeric address.
    if (af == fams.unspec || af == fams.inet)
        && let Some(a) = inet::pton4(name)
    {
        return Ok(inet(a));
    }
    // A scope id ("%eth0") is left to getaddrinfo, which knows the interfaces.
    if (af == fams.unspec || af == fams.inet6)
        && !name.contains(&b'%')
        && let Some(w) = inet::pton6(name)
    {
        return Ok(inet6(w));
    }
    let Ok(name) = std::str::from_utf8(name) else {
        return Err(error::gaierror(
            resolver.eai_noname(),
            EAI_NONAME_TEXT.to_string(),
        ));
    };
    match resolver.lookup(name, af)?.into_iter().next() {
        Some(a @ (Sockaddr::Inet(_) | Sockaddr::Inet6(_))) => Ok(a),
        _ => Err(os_error_msg("unknown address family")),
    }
}

/// `makesockaddr()`.
pub(crate) fn make_sockaddr(sa: &Sockaddr) -> Option<Address> {
    Some(match sa {
        Sockaddr::Unspec => return None,
        Sockaddr::Inet(a) => Address::Inet(exported::InetAddress {
            octets: a.addr,
            port: a.port,
        }),
        Sockaddr::Inet6(a) => {
            let (w0, w1, w2, w3, w4, w5, w6, w7) = a.addr;
            Address::Tuple(vec![
                Value::Str(inet::ntop6([w0, w1, w2, w3, w4, w5, w6, w7])),
                Value::Int(i64::from(a.port)),
                Value::Int(i64::from(a.flowinfo)),
                Value::Int(i64::from(a.scope_id)),
            ])
        }
        Sockaddr::Unix(path) => {
            if path.first() == Some(&0) {
                // Linux abstract namespace: all of it, NULs included.
                Address::Scalar(Value::Bytes(path.clone()))
            } else {
                // A NUL-terminated path (or an unnamed socket: '').
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                let bytes = path.get(..end).unwrap_or_default();
                match std::str::from_utf8(bytes) {
                    Ok(s) => Address::Scalar(Value::Str(s.to_string())),
                    Err(_) => Address::Scalar(Value::Bytes(bytes.to_vec())),
                }
            }
        }
        Sockaddr::Other((family, data)) => {
            // CPython's default: `(sa_family, sa_data)`, 14 bytes.
            let mut sa_data = data.clone();
            sa_data.resize(14, 0);
            Address::Tuple(vec![Value::Int(i64::from(*family)), Value::Bytes(sa_data)])
        }
    })
}

#[cfg(test)]
mod tests;

/// `name.encode("idna")` as `getaddrinfo` applies it to every `str` host
/// (the ASCII fast path included), with the `UnicodeError` the codec
/// raises. (Every failure gets the fast path's message; for non-ASCII
/// names CPython's text may name a different reason.)
pub fn idna_encode(name: &str) -> PyResult<Vec<u8>> {
    idna::encode(name).ok_or_else(|| {
        error::plain(
            "UnicodeError",
            "encoding with 'idna' codec failed (UnicodeError: label empty or too long)",
        )
    })
}

/// The numeric form of an address `setipaddr` resolved (`makeipaddr`).
pub fn ip_string(sa: &Sockaddr) -> String {
    match sa {
        Sockaddr::Inet(a) => {
            let (b0, b1, b2, b3) = a.addr;
            inet::ntop4([b0, b1, b2, b3])
        }
        Sockaddr::Inet6(a) => {
            let (w0, w1, w2, w3, w4, w5, w6, w7) = a.addr;
            inet::ntop6([w0, w1, w2, w3, w4, w5, w6, w7])
        }
        _ => String::new(),
    }
}

/// [`setipaddr`] on the C string of a name (bytes, or an IDNA-encoded str).
pub fn setipaddr_bytes(name: &[u8], family: i32) -> PyResult<Sockaddr> {
    set_ip_addr(name, family, &Families::host(), &mut HostResolver)
}
