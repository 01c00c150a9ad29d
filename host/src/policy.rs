//! The host's access policy: which addresses, ports, unix paths and name
//! lookups a store may use. Deny by default; enforced at the syscall layer
//! so that a guest calling `native` directly gets no more than one that goes
//! through the semantics component.

use std::ffi::OsStr;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;

use crate::sys::{Errno, SockAddr};

/// One grant of IP addresses and ports, for [`allow_connect`],
/// [`allow_bind`] or [`allow_sendto`].
///
/// A rule is an IP prefix (IPv4 or IPv6, in CIDR notation) or any address,
/// plus an inclusive port range. Parse one from a string:
///
/// | rule                     | addresses                  | ports       |
/// | ------------------------ | -------------------------- | ----------- |
/// | `127.0.0.1`              | `127.0.0.1`                | all         |
/// | `127.0.0.0/8`            | `127.0.0.0`-`127.255.255.255` | all      |
/// | `127.0.0.0/8:8000-9000`  | the same                   | 8000-9000   |
/// | `10.1.2.3:80`            | `10.1.2.3`                 | 80          |
/// | `::1` or `::1/128`       | `::1`                      | all         |
/// | `[::1]:80`               | `::1`                      | 80          |
/// | `[::]/0:1-1024`          | every IPv6 address         | 1-1024      |
/// | `*`                      | every address, both families | all       |
/// | `*:443`                  | every address, both families | 443       |
///
/// "All ports" is 0-65535, so such a rule also allows binding port 0 (an
/// ephemeral port). An IPv6 address with a port must be bracketed. An
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is checked as the IPv4
/// address `a.b.c.d`, against IPv4 rules only.
///
/// ```
/// use nativesock::AddressRule;
///
/// let rule: AddressRule = "127.0.0.0/8:8000-9000".parse().unwrap();
/// assert!(rule.matches("127.1.2.3".parse().unwrap(), 8080));
/// assert!(!rule.matches("127.1.2.3".parse().unwrap(), 80));
/// assert!(rule.matches("::ffff:127.0.0.1".parse().unwrap(), 8000));
/// ```
///
/// [`allow_connect`]: crate::NativesockCtxBuilder::allow_connect
/// [`allow_bind`]: crate::NativesockCtxBuilder::allow_bind
/// [`allow_sendto`]: crate::NativesockCtxBuilder::allow_sendto
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddressRule {
    net: Net,
    ports: (u16, u16),
}

/// The address part of an [`AddressRule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Net {
    Any,
    V4(Ipv4Addr, u8),
    V6(Ipv6Addr, u8),
}

/// Why a string is not an [`AddressRule`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressRuleError {
    rule: String,
    reason: String,
}

impl fmt::Display for AddressRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid address rule `{}`: {}", self.rule, self.reason)
    }
}

impl std::error::Error for AddressRuleError {}

impl AddressRule {
    /// Every address of both families, every port (`*`).
    pub fn any() -> AddressRule {
        AddressRule {
            net: Net::Any,
            ports: (0, u16::MAX),
        }
    }

    /// The addresses that share the first `prefix_len` bits with `addr`, on
    /// `ports`. Bits of `addr` past the prefix are ignored.
    ///
    /// # Errors
    ///
    /// When `prefix_len` is longer than the address (32 for IPv4, 128 for
    /// IPv6) or `ports` is empty.
    pub fn new(
        addr: IpAddr,
        prefix_len: u8,
        ports: RangeInclusive<u16>,
    ) -> Result<AddressRule, AddressRuleError> {
        let err = |reason: String| AddressRuleError {
            rule: format!("{addr}/{prefix_len}"),
            reason,
        };
        let net = match addr {
            IpAddr::V4(a) if prefix_len <= 32 => Net::V4(a, prefix_len),
            IpAddr::V6(a) if prefix_len <= 128 => Net::V6(a, prefix_len),
            IpAddr::V4(_) => {
                return Err(err(format!(
                    "prefix length {prefix_len} is out of range for IPv4 (0-32)"
                )));
            }
            IpAddr::V6(_) => {
                return Err(err(format!(
                    "prefix length {prefix_len} is out of range for IPv6 (0-128)"
                )));
            }
        };
        if ports.is_empty() {
            return Err(err(format!(
                "port range `{}-{}` is empty",
                ports.start(),
                ports.end()
            )));
        }
        Ok(AddressRule {
            net,
            ports: (*ports.start(), *ports.end()),
        })
    }

    /// Whether this rule covers `addr` on `port`. An IPv4-mapped IPv6
    /// address is checked as its IPv4 address.
    pub fn matches(&self, addr: IpAddr, port: u16) -> bool {
        if port < self.ports.0 || port > self.ports.1 {
            return false;
        }
        match (self.net, addr.to_canonical()) {
            (Net::Any, _) => true,
            (Net::V4(net, len), IpAddr::V4(a)) => {
                prefix_eq(u32::from(net).into(), u32::from(a).into(), len, 32)
            }
            (Net::V6(net, len), IpAddr::V6(a)) => {
                prefix_eq(u128::from(net), u128::from(a), len, 128)
            }
            _ => false,
        }
    }
}

/// Whether the first `len` of the low `bits` bits of `a` and `b` agree.
fn prefix_eq(a: u128, b: u128, len: u8, bits: u32) -> bool {
    let shift = bits - u32::from(len);
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

impl fmt::Display for AddressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all_ports = self.ports == (0, u16::MAX);
        match self.net {
            Net::Any => f.write_str("*")?,
            Net::V4(a, len) => write!(f, "{a}/{len}")?,
            Net::V6(a, len) if all_ports => return write!(f, "{a}/{len}"),
            Net::V6(a, len) => write!(f, "[{a}]/{len}")?,
        }
        match self.ports {
            _ if all_ports => Ok(()),
            (lo, hi) if lo == hi => write!(f, ":{lo}"),
            (lo, hi) => write!(f, ":{lo}-{hi}"),
        }
    }
}

impl FromStr for AddressRule {
    type Err = AddressRuleError;

    fn from_str(rule: &str) -> Result<AddressRule, AddressRuleError> {
        parse_rule(rule).map_err(|reason| AddressRuleError {
            rule: rule.to_owned(),
            reason,
        })
    }
}

/// Parses a rule; the error is the reason, to be wrapped with the rule.
fn parse_rule(rule: &str) -> Result<AddressRule, String> {
    if rule.is_empty() {
        return Err("the rule is empty".into());
    }
    if let Some(rest) = rule.strip_prefix('*') {
        let ports = match rest {
            "" => (0, u16::MAX),
            _ => match rest.strip_prefix(':') {
                Some(ports) => parse_ports(ports)?,
                None => return Err(format!("unexpected `{rest}` after `*`")),
            },
        };
        return Ok(AddressRule {
            net: Net::Any,
            ports,
        });
    }
    let (addr, len, ports) = if let Some(rest) = rule.strip_prefix('[') {
        // `[ADDR]`, `[ADDR]/LEN`, `[ADDR/LEN]`, each optionally followed by `:PORTS`.
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| "missing `]` after the IPv6 address".to_string())?;
        let (addr, inner_len) = split_len(inside);
        let (outer_len, ports) = match after.split_once(':') {
            Some((len, ports)) => (len, Some(ports)),
            None => (after, None),
        };
        let outer_len = match outer_len {
            "" => None,
            l => Some(
                l.strip_prefix('/')
                    .ok_or_else(|| format!("unexpected `{l}` after `]`"))?,
            ),
        };
        let len = match (inner_len, outer_len) {
            (Some(_), Some(_)) => return Err("the prefix length is given twice".into()),
            (l, None) | (None, l) => l,
        };
        let addr: Ipv6Addr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IPv6 address"))?;
        (IpAddr::V6(addr), len, ports)
    } else if rule.matches(':').count() >= 2 {
        // A bare IPv6 address cannot carry a port: its colons are ambiguous.
        let (addr, len) = split_len(rule);
        let addr: Ipv6Addr = addr.parse().map_err(|_| {
            format!("`{addr}` is not an IPv6 address (write `[ADDR]:PORT` for a port)")
        })?;
        (IpAddr::V6(addr), len, None)
    } else {
        let (net, ports) = match rule.split_once(':') {
            Some((net, ports)) => (net, Some(ports)),
            None => (rule, None),
        };
        let (addr, len) = split_len(net);
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IPv4 or IPv6 address"))?;
        (IpAddr::V4(addr), len, ports)
    };
    let max_len = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max_len,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|&l| l <= max_len)
            .ok_or_else(|| {
                let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
                format!("prefix length `{l}` is not a number in 0-{max_len} as {family} needs")
            })?,
    };
    let ports = match ports {
        None => (0, u16::MAX),
        Some(p) => parse_ports(p)?,
    };
    let net = match addr {
        IpAddr::V4(a) => Net::V4(a, len),
        IpAddr::V6(a) => Net::V6(a, len),
    };
    Ok(AddressRule { net, ports })
}

/// Splits `ADDR/LEN` into its parts.
fn split_len(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (s, None),
    }
}

/// Parses `PORT`, `LO-HI` or `*`.
fn parse_ports(s: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("port `{p}` is not a number in 0-65535"))
    };
    let (lo, hi) = match s {
        "*" => return Ok((0, u16::MAX)),
        _ => match s.split_once('-') {
            Some((lo, hi)) => (port(lo)?, port(hi)?),
            None => {
                let p = port(s)?;
                (p, p)
            }
        },
    };
    if lo > hi {
        return Err(format!("port range `{s}` is empty"));
    }
    Ok((lo, hi))
}

/// What a guest is about to do with an address: which grant it needs, and
/// what an [`address_check`] is asked about.
///
/// [`address_check`]: crate::NativesockCtxBuilder::address_check
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressUse {
    /// `connect`, and `sendto` on a stream socket (TCP Fast Open connects):
    /// [`allow_connect`](crate::NativesockCtxBuilder::allow_connect).
    Connect,
    /// `bind`, and the implicit bind of `listen` on an unbound socket:
    /// [`allow_bind`](crate::NativesockCtxBuilder::allow_bind).
    Bind,
    /// `sendto` on a datagram socket:
    /// [`allow_sendto`](crate::NativesockCtxBuilder::allow_sendto).
    Sendto,
}

/// An embedder's own address check, asked about every IP address no rule
/// grants ([`address_check`](crate::NativesockCtxBuilder::address_check)).
pub(crate) type AddressCheck = Arc<dyn Fn(SocketAddr, AddressUse) -> bool + Send + Sync>;

/// A store's access policy, fixed when the store's context is built.
#[derive(Clone, Default)]
pub(crate) struct Policy {
    /// Allows everything below and every socket family and type.
    pub(crate) inherit_network: bool,
    pub(crate) connect: Vec<AddressRule>,
    pub(crate) bind: Vec<AddressRule>,
    pub(crate) sendto: Vec<AddressRule>,
    /// Absolute directories; resolved again at each check.
    pub(crate) unix_dirs: Vec<PathBuf>,
    /// Linux abstract unix names, including autobind.
    pub(crate) abstract_unix: bool,
    /// `getaddrinfo` on names and `getnameinfo` without `NI_NUMERICHOST`.
    pub(crate) name_lookup: bool,
    /// Socket options granted beyond `sockopt.rs`'s list, as (level, name).
    pub(crate) sockopts: std::collections::HashSet<(i32, i32)>,
    /// The embedder's check, asked when no rule grants an IP address.
    pub(crate) check: Option<AddressCheck>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("inherit_network", &self.inherit_network)
            .field("connect", &self.connect)
            .field("bind", &self.bind)
            .field("sendto", &self.sendto)
            .field("unix_dirs", &self.unix_dirs)
            .field("abstract_unix", &self.abstract_unix)
            .field("name_lookup", &self.name_lookup)
            .field("sockopts", &self.sockopts)
            .field("check", &self.check.is_some())
            .finish()
    }
}

impl Policy {
    /// Which sockets a store may create: without `inherit_network`, only
    /// `AF_INET` and `AF_INET6` TCP stream sockets (protocol 0,
    /// `IPPROTO_TCP` or `IPPROTO_MPTCP`) and UDP datagram sockets (0 or
    /// `IPPROTO_UDP`), and `AF_UNIX` stream, datagram and seqpacket
    /// sockets. Raw, packet and netlink sockets could reach past the
    /// address checks, and so could SCTP (it connects and binds through
    /// socket options) and ICMP "ping" sockets: all need `inherit_network`
    /// (`EACCES`). The check comes before the kernel is asked, so it also
    /// gives the kernel's errno for what no kernel accepts.
    pub(crate) fn check_socket(
        &self,
        family: i32,
        socket_type: i32,
        proto: i32,
    ) -> Result<(), Errno> {
        if self.inherit_network {
            return Ok(());
        }
        // What the kernel refuses before looking at the family
        // (`__sys_socket_create`, `__sock_create`), with its errno.
        const AF_MAX: i32 = 46;
        const SOCK_MAX: i32 = 11;
        if !(0..AF_MAX).contains(&family) {
            return Err(libc::EAFNOSUPPORT);
        }
        let base_type = socket_type & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
        if !(0..SOCK_MAX).contains(&base_type) {
            return Err(libc::EINVAL);
        }
        // Then the family's own checks, as `inet_create` and `unix_create`
        // make them, so that a protocol Linux does not have is still
        // `EPROTONOSUPPORT`: the policy answers `EACCES` only for what the
        // kernel could make (and, as root, might load a module for).
        const IPPROTO_MAX: i32 = 263;
        const IPPROTO_L2TP: i32 = 115;
        const SOCK_DCCP: i32 = 6;
        let inet = matches!(family, libc::AF_INET | libc::AF_INET6);
        if inet && !(0..IPPROTO_MAX).contains(&proto) {
            return Err(libc::EINVAL);
        }
        match (family, base_type) {
            (libc::AF_UNSPEC, _) => Err(libc::EAFNOSUPPORT),
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM) => match proto {
                0 | libc::IPPROTO_TCP | libc::IPPROTO_MPTCP => Ok(()),
                libc::IPPROTO_SCTP => Err(libc::EACCES),
                _ => Err(libc::EPROTONOSUPPORT),
            },
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM) => match proto {
                0 | libc::IPPROTO_UDP => Ok(()),
                // UDP-Lite, "ping" sockets, L2TP.
                libc::IPPROTO_UDPLITE
                | libc::IPPROTO_ICMP
                | libc::IPPROTO_ICMPV6
                | IPPROTO_L2TP => Err(libc::EACCES),
                _ => Err(libc::EPROTONOSUPPORT),
            },
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_SEQPACKET) => match proto {
                // Protocol 0 is SCTP where the kernel has it.
                0 | libc::IPPROTO_SCTP => Err(libc::EACCES),
                _ => Err(libc::ESOCKTNOSUPPORT),
            },
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_RAW | SOCK_DCCP) => Err(libc::EACCES),
            (libc::AF_INET | libc::AF_INET6, _) => Err(libc::ESOCKTNOSUPPORT),
            (libc::AF_UNIX, _) if !matches!(proto, 0 | libc::PF_UNIX) => Err(libc::EPROTONOSUPPORT),
            // `SOCK_RAW` is a datagram socket for `AF_UNIX`.
            (
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET | libc::SOCK_RAW,
            ) => Ok(()),
            (libc::AF_UNIX, _) => Err(libc::ESOCKTNOSUPPORT),
            _ => Err(libc::EACCES),
        }
    }

    /// Whether `op` may use `address`; `EACCES` when not.
    pub(crate) fn check_address(&self, op: AddressUse, address: &SockAddr) -> Result<(), Errno> {
        if self.inherit_network {
            return Ok(());
        }
        let rules = self.rules(op);
        let allowed = match address {
            // The family field alone: the kernel dissolves an association
            // (`connect`), uses the connected peer (`sendto`) or refuses it.
            SockAddr::Unspec => true,
            SockAddr::Inet(a) => {
                let mut ip = *a.ip();
                // The kernel connects to loopback for the unspecified address.
                if op != AddressUse::Bind && ip.is_unspecified() {
                    ip = Ipv4Addr::LOCALHOST;
                }
                self.ip_allowed(rules, op, SocketAddr::new(ip.into(), a.port()))
            }
            SockAddr::Inet6(a) => {
                let mut ip = *a.ip();
                if op != AddressUse::Bind && ip.is_unspecified() {
                    ip = Ipv6Addr::LOCALHOST;
                }
                self.ip_allowed(rules, op, SocketAddr::new(ip.into(), a.port()))
            }
            SockAddr::Unix(name) => self.unix_allowed(name, op),
            SockAddr::Other(..) => false,
        };
        if allowed { Ok(()) } else { Err(libc::EACCES) }
    }

    /// The rules that grant `op`.
    fn rules(&self, op: AddressUse) -> &[AddressRule] {
        match op {
            AddressUse::Connect => &self.connect,
            AddressUse::Bind => &self.bind,
            AddressUse::Sendto => &self.sendto,
        }
    }

    /// Whether a rule or the embedder's check grants `op` on an IP address.
    fn ip_allowed(&self, rules: &[AddressRule], op: AddressUse, address: SocketAddr) -> bool {
        rules
            .iter()
            .any(|r| r.matches(address.ip(), address.port()))
            || self.check.as_ref().is_some_and(|check| check(address, op))
    }

    /// Whether `wasi:sockets` (wasmtime-wasi's implementation) may use
    /// `address` for `use_`: the same grants as this policy's own calls,
    /// mapped from wasmtime-wasi's checks
    /// ([`configure_wasi_sockets`] has the table).
    ///
    /// [`configure_wasi_sockets`]: crate::NativesockCtxBuilder::configure_wasi_sockets
    pub(crate) fn check_wasi(&self, address: SocketAddr, use_: SocketAddrUse) -> bool {
        if self.inherit_network {
            return true;
        }
        let op = match use_ {
            // wasmtime-wasi asks about the implicit bind of `connect`, a
            // UDP send and `listen` as a bind of the wildcard address, port
            // 0. A nativesock `connect` or `sendto` needs no bind grant for
            // its implicit bind, and a wildcard bind to an ephemeral port
            // serves nothing until `listen`, which is checked below.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind
                if address.ip().is_unspecified() && address.port() == 0 =>
            {
                return true;
            }
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => AddressUse::Bind,
            // `listen` gets the socket's local address: an ephemeral port
            // is granted by a rule that covers port 0 (nativesock checks
            // the bind, which asked for port 0).
            SocketAddrUse::TcpListen => {
                let ephemeral = SocketAddr::new(address.ip(), 0);
                return self.ip_allowed(&self.bind, AddressUse::Bind, address)
                    || self.ip_allowed(&self.bind, AddressUse::Bind, ephemeral);
            }
            SocketAddrUse::TcpConnect => AddressUse::Connect,
            // wasmtime-wasi checks a UDP `connect` and every send as a
            // send; a nativesock guest may send to what it may connect a
            // datagram socket to, so either grant does.
            SocketAddrUse::UdpSend => {
                return self.ip_allowed(&self.sendto, AddressUse::Sendto, address)
                    || self.ip_allowed(&self.connect, AddressUse::Connect, address);
            }
            // nativesock does not filter peers: what arrives on a granted
            // socket is the guest's.
            SocketAddrUse::TcpAccept | SocketAddrUse::UdpReceive => return true,
        };
        let rules = self.rules(op);
        self.ip_allowed(rules, op, address)
    }

    /// Whether a unix name is granted: abstract names (and autobind) by
    /// `abstract_unix`, paths by the resolved directory they live in.
    fn unix_allowed(&self, name: &[u8], op: AddressUse) -> bool {
        if name.first().is_none_or(|&b| b == 0) {
            return self.abstract_unix;
        }
        self.unix_grant(name, op).is_some()
    }

    /// The granted directory (resolved) a unix socket path is in, and the
    /// path relative to it; `None` when it is in none. `unixpath.rs` makes
    /// the call beneath that directory, so that what this resolution saw
    /// cannot be changed under it.
    pub(crate) fn unix_grant(&self, name: &[u8], op: AddressUse) -> Option<(PathBuf, PathBuf)> {
        // The kernel reads a pathname up to its first NUL.
        let name = name.split(|&b| b == 0).next().unwrap_or(name);
        let resolved =
            resolve_unix_path(Path::new(OsStr::from_bytes(name)), op != AddressUse::Bind)?;
        self.unix_dirs
            .iter()
            .filter_map(|dir| dir.canonicalize().ok())
            // Strictly inside: the granted directory's own path is not a
            // socket path in it (the fuzz target found this one).
            .find_map(|dir| {
                let rel = resolved.strip_prefix(&dir).ok()?;
                (!rel.as_os_str().is_empty()).then(|| (dir.clone(), rel.to_path_buf()))
            })
    }
}

/// Where a unix socket path really is: its parent directory resolved
/// (symlinks and `..` followed) plus its file name. With `follow_final`
/// (connect, sendto) a final symlink is followed as the kernel would.
///
/// When the parent does not exist, the nearest existing ancestor is resolved
/// and the rest appended: the kernel cannot walk through a missing
/// directory either, so the call fails (`ENOENT`) inside the grant rather
/// than `EACCES`. A path that ends in `..` or `/` resolves to nothing.
fn resolve_unix_path(path: &Path, follow_final: bool) -> Option<PathBuf> {
    if follow_final && let Ok(target) = path.canonicalize() {
        return Some(target);
    }
    let file_name = path.file_name()?;
    let parent = path.parent().unwrap_or(Path::new(""));
    let mut missing = Vec::new();
    for ancestor in parent.ancestors() {
        let dir = if ancestor.as_os_str().is_empty() {
            Path::new(".")
        } else {
            ancestor
        };
        if let Ok(mut resolved) = dir.canonicalize() {
            resolved.extend(missing.iter().rev());
            resolved.push(file_name);
            return Some(resolved);
        }
        missing.push(ancestor.file_name()?);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddrV4, SocketAddrV6};

    fn rule(s: &str) -> AddressRule {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rule_syntax_covers_addresses_prefixes_and_ports() {
        let r = rule("127.0.0.1");
        assert!(r.matches(ip("127.0.0.1"), 0));
        assert!(r.matches(ip("127.0.0.1"), 65535));
        assert!(!r.matches(ip("127.0.0.2"), 80));

        let r = rule("127.0.0.0/8:8000-9000");
        assert!(r.matches(ip("127.255.1.1"), 8000));
        assert!(r.matches(ip("127.0.0.1"), 9000));
        assert!(!r.matches(ip("127.0.0.1"), 7999));
        assert!(!r.matches(ip("128.0.0.1"), 8000));

        let r = rule("10.1.2.3:80");
        assert!(r.matches(ip("10.1.2.3"), 80));
        assert!(!r.matches(ip("10.1.2.3"), 81));

        let r = rule("[::1]:80");
        assert!(r.matches(ip("::1"), 80));
        assert!(!r.matches(ip("::2"), 80));
        assert!(!r.matches(ip("::1"), 443));

        let r = rule("::1/128");
        assert!(r.matches(ip("::1"), 1234));
        assert!(!r.matches(ip("::"), 1234));

        let r = rule("[::]/0:1-1024");
        assert!(r.matches(ip("2001:db8::1"), 1024));
        assert!(!r.matches(ip("2001:db8::1"), 0));
        assert!(
            !r.matches(ip("127.0.0.1"), 80),
            "IPv6 rules never match IPv4"
        );

        assert_eq!(rule("[fe80::/10]:443"), rule("[fe80::]/10:443"));

        let r = rule("*");
        assert!(r.matches(ip("192.0.2.1"), 0));
        assert!(r.matches(ip("2001:db8::1"), 65535));
        let r = rule("*:443");
        assert!(r.matches(ip("192.0.2.1"), 443));
        assert!(!r.matches(ip("192.0.2.1"), 444));

        let r = rule("0.0.0.0/0");
        assert!(r.matches(ip("255.255.255.255"), 1));
    }

    #[test]
    fn rule_ipv4_mapped_addresses_match_ipv4_rules() {
        let r = rule("127.0.0.0/8");
        assert!(r.matches(ip("::ffff:127.0.0.1"), 80));
        assert!(!rule("::/0").matches(ip("::ffff:127.0.0.1"), 80));
    }

    #[test]
    fn rule_display_round_trips() {
        for s in [
            "127.0.0.1/32",
            "127.0.0.0/8:8000-9000",
            "10.0.0.0/8:80",
            "::1/128",
            "[::]/0:1-1024",
            "*",
            "*:443",
        ] {
            assert_eq!(rule(s).to_string(), s);
            assert_eq!(rule(&rule(s).to_string()), rule(s));
        }
    }

    #[test]
    fn rule_errors_are_clear() {
        let cases = [
            ("", "invalid address rule ``: the rule is empty"),
            (
                "localhost",
                "invalid address rule `localhost`: `localhost` is not an IPv4 or IPv6 address",
            ),
            (
                "127.0.0.1/33",
                "invalid address rule `127.0.0.1/33`: prefix length `33` is not a number in 0-32 as IPv4 needs",
            ),
            (
                "::1/129",
                "invalid address rule `::1/129`: prefix length `129` is not a number in 0-128 as IPv6 needs",
            ),
            (
                "127.0.0.1:70000",
                "invalid address rule `127.0.0.1:70000`: port `70000` is not a number in 0-65535",
            ),
            (
                "127.0.0.1:90-80",
                "invalid address rule `127.0.0.1:90-80`: port range `90-80` is empty",
            ),
            (
                "[::1:80",
                "invalid address rule `[::1:80`: missing `]` after the IPv6 address",
            ),
            (
                "[127.0.0.1]:80",
                "invalid address rule `[127.0.0.1]:80`: `127.0.0.1` is not an IPv6 address",
            ),
            ("*x", "invalid address rule `*x`: unexpected `x` after `*`"),
        ];
        for (input, message) in cases {
            let err = input.parse::<AddressRule>().unwrap_err();
            assert_eq!(err.to_string(), message);
        }
        let err = AddressRule::new(ip("127.0.0.1"), 33, 0..=1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid address rule `127.0.0.1/33`: prefix length 33 is out of range for IPv4 (0-32)"
        );
    }

    fn v4(s: &str, port: u16) -> SockAddr {
        SockAddr::Inet(SocketAddrV4::new(s.parse().unwrap(), port))
    }

    fn v6(s: &str, port: u16) -> SockAddr {
        SockAddr::Inet6(SocketAddrV6::new(s.parse().unwrap(), port, 0, 0))
    }

    #[test]
    fn policy_denies_everything_by_default() {
        let p = Policy::default();
        for op in [AddressUse::Connect, AddressUse::Bind, AddressUse::Sendto] {
            assert_eq!(p.check_address(op, &v4("127.0.0.1", 80)), Err(libc::EACCES));
            assert_eq!(p.check_address(op, &v6("::1", 80)), Err(libc::EACCES));
            assert_eq!(
                p.check_address(op, &SockAddr::Unix(b"/tmp/x".to_vec())),
                Err(libc::EACCES)
            );
            assert_eq!(
                p.check_address(op, &SockAddr::Unix(b"\0name".to_vec())),
                Err(libc::EACCES)
            );
            assert_eq!(
                p.check_address(op, &SockAddr::Other(libc::AF_PACKET, vec![0; 8])),
                Err(libc::EACCES)
            );
        }
        assert!(!p.name_lookup);
        assert_eq!(
            p.check_socket(libc::AF_PACKET, libc::SOCK_RAW, 0),
            Err(libc::EACCES)
        );
        assert_eq!(
            p.check_socket(libc::AF_NETLINK, libc::SOCK_DGRAM, 0),
            Err(libc::EACCES)
        );
        assert_eq!(
            p.check_socket(libc::AF_INET, libc::SOCK_RAW, 1),
            Err(libc::EACCES)
        );
        assert_eq!(
            p.check_socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0),
            Ok(())
        );
        // Protocols that connect, bind or send outside the address checks.
        for (family, ty, proto) in [
            (libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP),
            (libc::AF_INET6, libc::SOCK_SEQPACKET, libc::IPPROTO_SCTP),
            (libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP),
            (libc::AF_INET6, libc::SOCK_DGRAM, libc::IPPROTO_ICMPV6),
            (libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_UDPLITE),
        ] {
            assert_eq!(p.check_socket(family, ty, proto), Err(libc::EACCES));
        }
        for (family, ty, proto) in [
            (libc::AF_INET6, libc::SOCK_STREAM, libc::IPPROTO_TCP),
            (libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_MPTCP),
            (libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_UDP),
            (libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0),
        ] {
            assert_eq!(p.check_socket(family, ty, proto), Ok(()));
        }
        assert_eq!(
            p.check_socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0),
            Ok(())
        );
    }

    #[test]
    fn policy_inherit_network_allows_everything() {
        let p = Policy {
            inherit_network: true,
            ..Policy::default()
        };
        assert_eq!(
            p.check_address(AddressUse::Connect, &v4("192.0.2.1", 1)),
            Ok(())
        );
        assert_eq!(
            p.check_address(AddressUse::Bind, &SockAddr::Unix(b"/x/y".to_vec())),
            Ok(())
        );
        assert_eq!(
            p.check_address(AddressUse::Bind, &SockAddr::Unix(Vec::new())),
            Ok(())
        );
        assert_eq!(p.check_socket(libc::AF_PACKET, libc::SOCK_RAW, 0), Ok(()));
    }

    #[test]
    fn policy_rules_are_per_operation() {
        let p = Policy {
            connect: vec![rule("127.0.0.0/8:8000-9000")],
            bind: vec![rule("127.0.0.1")],
            sendto: vec![rule("[::1]:53")],
            ..Policy::default()
        };
        assert_eq!(
            p.check_address(AddressUse::Connect, &v4("127.0.0.9", 8080)),
            Ok(())
        );
        assert_eq!(
            p.check_address(AddressUse::Connect, &v4("127.0.0.9", 80)),
            Err(libc::EACCES)
        );
        assert_eq!(
            p.check_address(AddressUse::Bind, &v4("127.0.0.9", 8080)),
            Err(libc::EACCES)
        );
        assert_eq!(
            p.check_address(AddressUse::Bind, &v4("127.0.0.1", 0)),
            Ok(())
        );
        assert_eq!(p.check_address(AddressUse::Sendto, &v6("::1", 53)), Ok(()));
        assert_eq!(
            p.check_address(AddressUse::Sendto, &v4("127.0.0.1", 53)),
            Err(libc::EACCES)
        );
        // Mapped addresses are checked as IPv4.
        assert_eq!(
            p.check_address(AddressUse::Connect, &v6("::ffff:127.0.0.1", 8000)),
            Ok(())
        );
        assert_eq!(
            p.check_address(AddressUse::Connect, &v6("::ffff:10.0.0.1", 8000)),
            Err(libc::EACCES)
        );
        // Connecting to the unspecified address reaches loopback.
        assert_eq!(
            p.check_address(AddressUse::Connect, &v4("0.0.0.0", 8000)),
            Ok(())
        );
        assert_eq!(
            p.check_address(AddressUse::Bind, &v4("0.0.0.0", 0)),
            Err(libc::EACCES)
        );
        assert_eq!(p.check_address(AddressUse::Sendto, &v6("::", 53)), Ok(()));
        // The family alone is the kernel's business.
        assert_eq!(
            p.check_address(AddressUse::Connect, &SockAddr::Unspec),
            Ok(())
        );
    }

    #[test]
    fn policy_unix_dirs_resolve_dot_dot_and_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let granted = root.path().join("granted");
        let outside = root.path().join("outside");
        std::fs::create_dir(&granted).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, granted.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.join("target"), granted.join("link")).unwrap();
        std::fs::write(outside.join("target"), b"").unwrap();
        let p = Policy {
            unix_dirs: vec![granted.clone()],
            ..Policy::default()
        };
        let check = |op, path: &Path| {
            p.check_address(op, &SockAddr::Unix(path.as_os_str().as_bytes().to_vec()))
        };
        for op in [AddressUse::Connect, AddressUse::Bind, AddressUse::Sendto] {
            assert_eq!(check(op, &granted.join("s")), Ok(()));
            assert_eq!(
                check(op, &granted.join("missing/s")),
                Ok(()),
                "ENOENT is the kernel's"
            );
            assert_eq!(check(op, &outside.join("s")), Err(libc::EACCES));
            assert_eq!(check(op, &granted.join("../outside/s")), Err(libc::EACCES));
            assert_eq!(check(op, &granted.join("escape/s")), Err(libc::EACCES));
            assert_eq!(
                check(op, &granted.join("missing/../../outside/s")),
                Err(libc::EACCES)
            );
            assert_eq!(check(op, &granted.join("..")), Err(libc::EACCES));
        }
        // connect follows a final symlink; bind does not (it fails with EADDRINUSE).
        assert_eq!(
            check(AddressUse::Connect, &granted.join("link")),
            Err(libc::EACCES)
        );
        assert_eq!(check(AddressUse::Bind, &granted.join("link")), Ok(()));
        // A NUL ends the kernel's pathname.
        let mut with_nul = outside.join("s").as_os_str().as_bytes().to_vec();
        with_nul.extend_from_slice(b"\0");
        with_nul.extend_from_slice(granted.as_os_str().as_bytes());
        assert_eq!(
            p.check_address(AddressUse::Bind, &SockAddr::Unix(with_nul)),
            Err(libc::EACCES)
        );
        // Abstract names need their own grant.
        assert_eq!(
            p.check_address(AddressUse::Bind, &SockAddr::Unix(b"\0abstract".to_vec())),
            Err(libc::EACCES)
        );
        let p = Policy {
            abstract_unix: true,
            ..p
        };
        assert_eq!(
            p.check_address(AddressUse::Bind, &SockAddr::Unix(b"\0abstract".to_vec())),
            Ok(())
        );
        assert_eq!(
            p.check_address(AddressUse::Bind, &SockAddr::Unix(Vec::new())),
            Ok(())
        );
    }

    #[test]
    fn policy_unix_relative_paths_resolve_against_the_cwd() {
        let cwd = std::env::current_dir().unwrap();
        let p = Policy {
            unix_dirs: vec![cwd.clone()],
            ..Policy::default()
        };
        assert_eq!(
            p.check_address(AddressUse::Bind, &SockAddr::Unix(b"sock".to_vec())),
            Ok(())
        );
        assert_eq!(
            p.check_address(AddressUse::Bind, &SockAddr::Unix(b"../sock".to_vec())),
            if cwd.parent().is_some() {
                Err(libc::EACCES)
            } else {
                Ok(())
            }
        );
    }
}
