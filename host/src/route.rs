//! Where a `connect` or a send really goes, so that the address the policy
//! checks is the one the kernel uses.
//!
//! Linux takes the unspecified address as a destination and picks one
//! itself: for IPv4 `0.0.0.0` the socket's source address (an `IP_PKTINFO`
//! source given with the message, else the bound address), or `127.0.0.1`
//! when there is none (`__ip_route_output_key_hash_rcu`); for IPv6 `::`
//! `::1`, or `::ffff:127.0.0.1` on a socket bound to an IPv4-mapped address
//! (`tcp_v6_connect`, `__ip6_datagram_connect`). The host makes that
//! choice itself and hands the kernel the explicit address, so nothing is
//! left for the kernel to pick after the check.
//!
//! Ancillary data on a send is allowed from a short list (rights and
//! credentials, which `ctx/io.rs` checks; `IP_PKTINFO`/`IPV6_PKTINFO` without
//! an interface; TTL, TOS, hop limit, traffic class, don't-fragment, UDP
//! GSO): the rest can route a packet past its destination (`IP_RETOPTS`
//! source routes, `IPV6_RTHDR`, `IPV6_NEXTHOP`) or pick an interface.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use crate::sys::{Cmsg, SockAddr};

/// `IP_PKTINFO`, `IPV6_PKTINFO`... as the ancillary items name them.
const IP_TOS: i32 = 1;
const IP_TTL: i32 = 2;
const IP_PKTINFO: i32 = 8;
const IP_PROTOCOL: i32 = 52;
const IPV6_2292PKTINFO: i32 = 2;
const IPV6_2292HOPLIMIT: i32 = 8;
const IPV6_FLOWINFO: i32 = 11;
const IPV6_PKTINFO: i32 = 50;
const IPV6_HOPLIMIT: i32 = 52;
const IPV6_DONTFRAG: i32 = 62;
const IPV6_TCLASS: i32 = 67;
const UDP_SEGMENT: i32 = 103;

/// What a send's ancillary data says about routing: the source address of
/// its last `IP_PKTINFO`/`IPV6_PKTINFO`, if any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SendControl {
    pub(crate) source: Option<IpAddr>,
}

/// Why a send's ancillary data is not passed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The policy refuses this (level, type): `EACCES`.
    Policy(i32, i32),
    /// The kernel's own answer for an item it does not know (`EINVAL`).
    Kernel(i32),
}

/// Checks a send's ancillary items (`inherit`: all pass) and reads their
/// routing. Returns the items to hand the kernel: at the levels Linux
/// parses (`SOL_SOCKET`, `IPPROTO_IP`, `IPPROTO_IPV6`) an item from the
/// list passes, a known one the policy refuses is [`Refused::Policy`] and
/// an unknown one is the kernel's `EINVAL`; items at other levels, which
/// the kernel skips, are left out, and so is an unknown `IPPROTO_UDP` type.
pub(crate) fn send_control(
    items: &[Cmsg],
    inherit: bool,
) -> Result<(SendControl, Vec<&Cmsg>), Refused> {
    let mut control = SendControl::default();
    let mut pass = Vec::with_capacity(items.len());
    for item in items {
        let refused = Err(Refused::Policy(item.level, item.kind));
        let kept = match (item.level, item.kind) {
            (libc::SOL_SOCKET, libc::SCM_RIGHTS | libc::SCM_CREDENTIALS) => true,
            // SO_PRIORITY, SO_TIMESTAMPING_OLD, SCM_TS_OPT_ID.
            (libc::SOL_SOCKET, 12 | 37 | 81) => true,
            // SO_MARK, SCM_TXTIME.
            (libc::SOL_SOCKET, 36 | 61) if !inherit => return refused,
            (libc::IPPROTO_IP, IP_PKTINFO) => {
                // struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
                if let Some(info) = item.data.get(..12) {
                    if !inherit && info[..4] != [0; 4] {
                        return refused;
                    }
                    let spec_dst: [u8; 4] = info[4..8].try_into().unwrap_or_default();
                    control.source = Some(Ipv4Addr::from(spec_dst).into());
                }
                true
            }
            (libc::IPPROTO_IPV6, IPV6_PKTINFO | IPV6_2292PKTINFO) => {
                // struct in6_pktinfo { in6_addr addr; int ifindex; }
                if let Some(info) = item.data.get(..20) {
                    if !inherit && info[16..20] != [0; 4] {
                        return refused;
                    }
                    let addr: [u8; 16] = info[..16].try_into().unwrap_or_default();
                    control.source = Some(Ipv6Addr::from(addr).into());
                }
                true
            }
            (libc::IPPROTO_IP, IP_TTL | IP_TOS | IP_PROTOCOL)
            | (
                libc::IPPROTO_IPV6,
                IPV6_2292HOPLIMIT | IPV6_FLOWINFO | IPV6_HOPLIMIT | IPV6_TCLASS | IPV6_DONTFRAG,
            )
            | (libc::IPPROTO_UDP, UDP_SEGMENT) => true,
            // IP_RETOPTS (source routes); the RFC 2292 and RFC 3542
            // extension headers, routing headers and next hop.
            (libc::IPPROTO_IP, 7) | (libc::IPPROTO_IPV6, 3 | 4 | 5 | 9 | 54 | 55 | 57 | 59)
                if !inherit =>
            {
                return refused;
            }
            _ if inherit => true,
            (libc::SOL_SOCKET | libc::IPPROTO_IP | libc::IPPROTO_IPV6, _) => {
                return Err(Refused::Kernel(libc::EINVAL));
            }
            _ => false,
        };
        if kept {
            pass.push(item);
        }
    }
    Ok((control, pass))
}

/// The explicit address the kernel would use for `address` when its host
/// is unspecified, from the socket's bound address `local` and a send's
/// `control`; `None` when `address` is explicit already.
pub(crate) fn explicit_destination(
    address: &SockAddr,
    local: Option<&SockAddr>,
    control: SendControl,
) -> Option<SockAddr> {
    let local_ip = match local {
        Some(SockAddr::Inet(a)) => Some(IpAddr::V4(*a.ip())),
        Some(SockAddr::Inet6(a)) => Some(IpAddr::V6(*a.ip())),
        _ => None,
    };
    // IPv4's rule: the packet's source, else the bound address, else loopback.
    let v4_source = || {
        let source = match control.source {
            Some(ip) => Some(ip),
            None => local_ip,
        };
        match source.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(ip)) if !ip.is_unspecified() => ip,
            _ => Ipv4Addr::LOCALHOST,
        }
    };
    match address {
        SockAddr::Inet(a) if a.ip().is_unspecified() => {
            Some(SockAddr::Inet(SocketAddrV4::new(v4_source(), a.port())))
        }
        SockAddr::Inet6(a) => {
            let ip = if a.ip().to_ipv4_mapped() == Some(Ipv4Addr::UNSPECIFIED) {
                v4_source().to_ipv6_mapped()
            } else if a.ip().is_unspecified() {
                match local_ip {
                    Some(IpAddr::V6(l)) if l.to_ipv4_mapped().is_some() => {
                        Ipv4Addr::LOCALHOST.to_ipv6_mapped()
                    }
                    _ => Ipv6Addr::LOCALHOST,
                }
            } else {
                return None;
            };
            Some(SockAddr::Inet6(SocketAddrV6::new(
                ip,
                a.port(),
                a.flowinfo(),
                a.scope_id(),
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> SockAddr {
        SockAddr::Inet(s.parse().unwrap())
    }

    fn v6(s: &str) -> SockAddr {
        SockAddr::Inet6(s.parse().unwrap())
    }

    fn pktinfo(ifindex: i32, spec_dst: [u8; 4]) -> Cmsg {
        let mut data = ifindex.to_ne_bytes().to_vec();
        data.extend(spec_dst);
        data.extend([0; 4]);
        Cmsg {
            level: libc::IPPROTO_IP,
            kind: IP_PKTINFO,
            data,
        }
    }

    #[test]
    fn the_unspecified_host_is_the_source_then_loopback() {
        let none = SendControl::default();
        assert_eq!(explicit_destination(&v4("127.0.0.1:9"), None, none), None);
        assert_eq!(
            explicit_destination(&v4("0.0.0.0:9"), None, none),
            Some(v4("127.0.0.1:9"))
        );
        assert_eq!(
            explicit_destination(&v4("0.0.0.0:9"), Some(&v4("127.0.0.2:5")), none),
            Some(v4("127.0.0.2:9"))
        );
        assert_eq!(
            explicit_destination(&v4("0.0.0.0:9"), Some(&v4("0.0.0.0:5")), none),
            Some(v4("127.0.0.1:9"))
        );
        let from = SendControl {
            source: Some("127.0.0.3".parse().unwrap()),
        };
        assert_eq!(
            explicit_destination(&v4("0.0.0.0:9"), Some(&v4("127.0.0.2:5")), from),
            Some(v4("127.0.0.3:9"))
        );
        assert_eq!(
            explicit_destination(&v6("[::]:9"), Some(&v6("[::ffff:127.0.0.2]:5")), none),
            Some(v6("[::ffff:127.0.0.1]:9"))
        );
        assert_eq!(
            explicit_destination(&v6("[::]:9"), Some(&v6("[::]:5")), none),
            Some(v6("[::1]:9"))
        );
        assert_eq!(
            explicit_destination(
                &v6("[::ffff:0.0.0.0]:9"),
                Some(&v6("[::ffff:127.0.0.2]:5")),
                none
            ),
            Some(v6("[::ffff:127.0.0.2]:9"))
        );
        assert_eq!(explicit_destination(&v6("[::1]:9"), None, none), None);
        assert_eq!(
            explicit_destination(&SockAddr::Unix(b"/x".to_vec()), None, none),
            None
        );
    }

    #[test]
    fn ancillary_items_come_from_a_list() {
        let info = pktinfo(0, [127, 0, 0, 2]);
        assert_eq!(
            send_control(std::slice::from_ref(&info), false),
            Ok((
                SendControl {
                    source: Some("127.0.0.2".parse().unwrap())
                },
                vec![&info]
            ))
        );
        assert_eq!(
            send_control(&[pktinfo(1, [0; 4])], false),
            Err(Refused::Policy(libc::IPPROTO_IP, IP_PKTINFO))
        );
        assert!(send_control(&[pktinfo(1, [0; 4])], true).is_ok());
        let retopts = Cmsg {
            level: libc::IPPROTO_IP,
            kind: libc::IP_RETOPTS,
            data: vec![0x83, 7, 4, 127, 0, 0, 1, 0],
        };
        assert_eq!(
            send_control(std::slice::from_ref(&retopts), false),
            Err(Refused::Policy(libc::IPPROTO_IP, libc::IP_RETOPTS))
        );
        assert!(send_control(&[retopts], true).is_ok());
        let rthdr = Cmsg {
            level: libc::IPPROTO_IPV6,
            kind: libc::IPV6_RTHDR,
            data: vec![0; 24],
        };
        assert!(send_control(&[rthdr], false).is_err());
        let ttl = Cmsg {
            level: libc::IPPROTO_IP,
            kind: libc::IP_TTL,
            data: 3i32.to_ne_bytes().to_vec(),
        };
        assert_eq!(
            send_control(std::slice::from_ref(&ttl), false),
            Ok((SendControl::default(), vec![&ttl]))
        );
        // What the kernel does not know is its EINVAL; other levels it skips.
        let unknown = Cmsg {
            level: libc::SOL_SOCKET,
            kind: 999,
            data: vec![],
        };
        assert_eq!(
            send_control(&[unknown], false),
            Err(Refused::Kernel(libc::EINVAL))
        );
        let elsewhere = Cmsg {
            level: 9999,
            kind: 1,
            data: vec![],
        };
        assert_eq!(
            send_control(&[elsewhere], false),
            Ok((SendControl::default(), vec![]))
        );
    }
}
