//! Which socket options and message flags a guest may use. Without
//! `inherit_network`, `setsockopt` is allowed for the (level, name) pairs
//! listed here and nothing else: the options CPython programs set on TCP,
//! UDP and unix sockets. The rest could reach past the address policy
//! (`SO_MARK`, `SO_BINDTODEVICE`, `IP_TRANSPARENT`, `IP_OPTIONS` source
//! routes, `IPV6_RTHDR`, `TCP_REPAIR`...), load kernel code (`TCP_ULP`) or
//! join multicast groups (which sends IGMP/MLD reports on real interfaces).
//!
//! Whatever the grants, a few options are never passed on because the
//! host cannot make them safe: they make the kernel read or write the host
//! process's memory at an address the guest chose, name one of the host's
//! fds, or keep the host's buffer after the call (`SO_ZEROCOPY` and
//! `MSG_ZEROCOPY`: the kernel would transmit the host's heap after it was
//! freed and reused). `SECURITY.md` lists them.
//!
//! `getsockopt` only reads the store's own socket, so it is allowed except
//! for the never-list (and `SO_PEERPIDFD`, which `ctx/options.rs` handles): an
//! option the kernel does not know stays `ENOPROTOOPT`, as natively.

use crate::policy::Policy;

/// `SOL_SOCKET` options a guest may set: the generic ones (`SO_REUSEADDR`,
/// buffer sizes, keepalive, linger, timeouts, credentials and timestamps).
const SOL_SOCKET_SET: &[i32] = &[
    1,  // SO_DEBUG
    2,  // SO_REUSEADDR
    5,  // SO_DONTROUTE
    6,  // SO_BROADCAST
    7,  // SO_SNDBUF
    8,  // SO_RCVBUF
    9,  // SO_KEEPALIVE
    10, // SO_OOBINLINE
    12, // SO_PRIORITY
    13, // SO_LINGER
    14, // SO_BSDCOMPAT
    15, // SO_REUSEPORT
    16, // SO_PASSCRED
    18, // SO_RCVLOWAT
    19, // SO_SNDLOWAT
    20, // SO_RCVTIMEO_OLD
    21, // SO_SNDTIMEO_OLD
    29, // SO_TIMESTAMP_OLD
    34, // SO_PASSSEC
    35, // SO_TIMESTAMPNS_OLD
    37, // SO_TIMESTAMPING_OLD
    40, // SO_RXQ_OVFL
    42, // SO_PEEK_OFF
    45, // SO_SELECT_ERR_QUEUE
    47, // SO_MAX_PACING_RATE
    49, // SO_INCOMING_CPU
    63, // SO_TIMESTAMP_NEW
    64, // SO_TIMESTAMPNS_NEW
    65, // SO_TIMESTAMPING_NEW
    66, // SO_RCVTIMEO_NEW
    67, // SO_SNDTIMEO_NEW
    72, // SO_BUF_LOCK
    74, // SO_TXREHASH
    75, // SO_RCVMARK
    76, // SO_PASSPIDFD
    82, // SO_RCVPRIORITY
    83, // SO_PASSRIGHTS
];

/// `IPPROTO_IP` options a guest may set: TOS and TTL, what to receive as
/// ancillary data, path MTU discovery, multicast TTL and loopback.
const IP_SET: &[i32] = &[
    1,  // IP_TOS
    2,  // IP_TTL
    6,  // IP_RECVOPTS
    8,  // IP_PKTINFO (receive it)
    10, // IP_MTU_DISCOVER
    11, // IP_RECVERR
    12, // IP_RECVTTL
    13, // IP_RECVTOS
    15, // IP_FREEBIND (bind is still checked)
    18, // IP_PASSSEC
    20, // IP_RECVORIGDSTADDR
    21, // IP_MINTTL
    24, // IP_BIND_ADDRESS_NO_PORT
    25, // IP_RECVFRAGSIZE
    26, // IP_RECVERR_RFC4884
    33, // IP_MULTICAST_TTL
    34, // IP_MULTICAST_LOOP
    49, // IP_MULTICAST_ALL
    51, // IP_LOCAL_PORT_RANGE
];

/// `IPPROTO_IPV6` options a guest may set: `IPV6_V6ONLY`, hop limits and
/// traffic class, what to receive as ancillary data, path MTU.
const IPV6_SET: &[i32] = &[
    11, // IPV6_FLOWINFO
    16, // IPV6_UNICAST_HOPS
    18, // IPV6_MULTICAST_HOPS
    19, // IPV6_MULTICAST_LOOP
    23, // IPV6_MTU_DISCOVER
    25, // IPV6_RECVERR
    26, // IPV6_V6ONLY
    29, // IPV6_MULTICAST_ALL
    31, // IPV6_RECVERR_RFC4884
    33, // IPV6_FLOWINFO_SEND
    49, // IPV6_RECVPKTINFO
    51, // IPV6_RECVHOPLIMIT
    53, // IPV6_RECVHOPOPTS
    56, // IPV6_RECVRTHDR
    58, // IPV6_RECVDSTOPTS
    60, // IPV6_RECVPATHMTU
    62, // IPV6_DONTFRAG
    66, // IPV6_RECVTCLASS
    67, // IPV6_TCLASS
    70, // IPV6_AUTOFLOWLABEL
    72, // IPV6_ADDR_PREFERENCES
    73, // IPV6_MINHOPCOUNT
    74, // IPV6_RECVORIGDSTADDR
    77, // IPV6_RECVFRAGSIZE
    78, // IPV6_FREEBIND (bind is still checked)
];

/// `IPPROTO_TCP` options a guest may set: Nagle, segment size, cork,
/// keepalive, timeouts, congestion control, Fast Open, `TCP_INQ`.
const TCP_SET: &[i32] = &[
    1,  // TCP_NODELAY
    2,  // TCP_MAXSEG
    3,  // TCP_CORK
    4,  // TCP_KEEPIDLE
    5,  // TCP_KEEPINTVL
    6,  // TCP_KEEPCNT
    7,  // TCP_SYNCNT
    8,  // TCP_LINGER2
    9,  // TCP_DEFER_ACCEPT
    10, // TCP_WINDOW_CLAMP
    12, // TCP_QUICKACK
    13, // TCP_CONGESTION
    16, // TCP_THIN_LINEAR_TIMEOUTS
    17, // TCP_THIN_DUPACK
    18, // TCP_USER_TIMEOUT
    23, // TCP_FASTOPEN
    25, // TCP_NOTSENT_LOWAT
    27, // TCP_SAVE_SYN
    30, // TCP_FASTOPEN_CONNECT (the connect is still checked)
    34, // TCP_FASTOPEN_NO_COOKIE
    36, // TCP_INQ
    44, // TCP_RTO_MAX_MS
    45, // TCP_RTO_MIN_US
    46, // TCP_DELACK_MAX_US
];

/// `IPPROTO_UDP` options a guest may set: cork, checksums, GSO and GRO.
const UDP_SET: &[i32] = &[
    1,   // UDP_CORK
    101, // UDP_NO_CHECK6_TX
    102, // UDP_NO_CHECK6_RX
    103, // UDP_SEGMENT
    104, // UDP_GRO
];

const SOL_SOCKET: i32 = libc::SOL_SOCKET;
const SOL_PACKET: i32 = 263;
const SOL_RDS: i32 = 276;
const SOL_XDP: i32 = 283;
const SOL_MPTCP: i32 = 284;

/// Options never set, whatever the grants: they hand the kernel a pointer
/// into the host's memory or a host fd (`SO_ATTACH_FILTER`'s and
/// `SO_ATTACH_REUSEPORT_CBPF`'s `sock_fprog`, the BPF program fds,
/// `PACKET_FANOUT_DATA`, the iptables, ip6tables, arptables and ebtables
/// replace calls), pin the host's buffers past the call (`SO_ZEROCOPY`),
/// or bind device memory (`SO_DEVMEM_*`).
fn never_set(level: i32, name: i32) -> bool {
    match level {
        SOL_SOCKET => matches!(name, 26 | 50 | 51 | 52 | 60 | 78 | 79 | 80),
        libc::IPPROTO_IP => matches!(name, 64 | 65 | 96 | 97 | 128 | 129),
        libc::IPPROTO_IPV6 => matches!(name, 64 | 65),
        SOL_PACKET => name == 22,
        SOL_RDS | SOL_XDP => true,
        _ => false,
    }
}

/// Options never read: `TCP_ZEROCOPY_RECEIVE` and `MPTCP_FULL_INFO` carry
/// addresses the kernel writes to; RDS and XDP options map memory.
fn never_get(level: i32, name: i32) -> bool {
    match level {
        libc::IPPROTO_TCP => name == 35,
        SOL_MPTCP => name == 4,
        SOL_RDS | SOL_XDP => true,
        _ => false,
    }
}

/// `MSG_ZEROCOPY`: never passed on (see the module docs).
pub(crate) const MSG_ZEROCOPY: i32 = 0x0400_0000;

/// Flags a guest may pass to `send`, `sendto` and `sendmsg`: those of
/// send(2) (`MSG_CONFIRM`, `MSG_DONTROUTE`, `MSG_DONTWAIT`, `MSG_EOR`,
/// `MSG_MORE`, `MSG_NOSIGNAL`, `MSG_OOB`, `MSG_FASTOPEN`).
const SEND_FLAGS: i32 = libc::MSG_CONFIRM
    | libc::MSG_DONTROUTE
    | libc::MSG_DONTWAIT
    | libc::MSG_EOR
    | libc::MSG_MORE
    | libc::MSG_NOSIGNAL
    | libc::MSG_OOB
    | libc::MSG_FASTOPEN;

/// Flags a guest may pass to `recv`, `recvfrom` and `recvmsg`: those of
/// recv(2) (`MSG_CMSG_CLOEXEC`, `MSG_DONTWAIT`, `MSG_ERRQUEUE`, `MSG_OOB`,
/// `MSG_PEEK`, `MSG_TRUNC`, `MSG_WAITALL`).
const RECV_FLAGS: i32 = libc::MSG_CMSG_CLOEXEC
    | libc::MSG_DONTWAIT
    | libc::MSG_ERRQUEUE
    | libc::MSG_OOB
    | libc::MSG_PEEK
    | libc::MSG_TRUNC
    | libc::MSG_WAITALL;

/// Options Linux knows and a guest may not set without a grant, by level:
/// what the lists above leave out on purpose. Any other name is one the
/// kernel would answer `ENOPROTOOPT` for (or a newer kernel's option),
/// and gets that answer without the kernel being asked.
fn known_refused(level: i32, name: i32) -> bool {
    match level {
        // SO_NO_CHECK, SO_SECURITY_*, SO_BINDTODEVICE, SO_*_FILTER,
        // SO_*BUFFORCE, SO_MARK, SO_WIFI_STATUS, SO_NOFCS, SO_LOCK_FILTER,
        // SO_BUSY_POLL, the BPF options, SO_ZEROCOPY, SO_TXTIME,
        // SO_BINDTOIFINDEX, SO_PREFER_BUSY_POLL, SO_BUSY_POLL_BUDGET,
        // SO_RESERVE_MEM, SO_DEVMEM_*.
        SOL_SOCKET => matches!(
            name,
            11 | 22..=27 | 32 | 33 | 36 | 41 | 43 | 44 | 46 | 50..=52 | 60..=62 | 68..=70 | 73 | 78..=80
        ),
        // IP_HDRINCL, IP_OPTIONS, IP_ROUTER_ALERT, IP_RETOPTS,
        // IP_PKTOPTIONS, IP_IPSEC_POLICY, IP_XFRM_POLICY, IP_TRANSPARENT,
        // IP_NODEFRAG, IP_CHECKSUM, IP_MULTICAST_IF, the group memberships
        // and source filters, IP_UNICAST_IF, and the netfilter tables.
        libc::IPPROTO_IP => matches!(
            name,
            3 | 4 | 5 | 7 | 9 | 16 | 17 | 19 | 22 | 23 | 32 | 35
                ..=48 | 50 | 64 | 65 | 96 | 97 | 128 | 129
        ),
        // IPV6_ADDRFORM, the RFC 2292 options, IPV6_CHECKSUM, IPV6_NEXTHOP,
        // IPV6_AUTHHDR, IPV6_MULTICAST_IF, group and anycast memberships,
        // router alerts, IPV6_FLOWLABEL_MGR, IPsec and XFRM policies,
        // IPV6_HDRINCL, the MCAST_* filters, sticky IPV6_PKTINFO and
        // IPV6_HOPLIMIT, the extension headers (IPV6_RTHDR...),
        // IPV6_TRANSPARENT, IPV6_UNICAST_IF and ip6tables.
        libc::IPPROTO_IPV6 => matches!(
            name,
            1..=10 | 17 | 20..=22 | 27 | 28 | 30 | 32 | 34..=36 | 42..=48 | 50 | 52 | 54 | 55 | 57 | 59 | 64 | 65 | 75 | 76
        ),
        // TCP_MD5SIG, the TCP_REPAIR family, TCP_TIMESTAMP, TCP_ULP,
        // TCP_MD5SIG_EXT, TCP_FASTOPEN_KEY, TCP_TX_DELAY and TCP-AO.
        libc::IPPROTO_TCP => matches!(name, 14 | 19..=22 | 24 | 29 | 31..=33 | 37..=42),
        // UDP_ENCAP.
        libc::IPPROTO_UDP => name == 100,
        _ => false,
    }
}

impl Policy {
    /// Whether the guest may set option `name` at `level`: `Ok` to ask the
    /// kernel; `EACCES` for an option the policy refuses; otherwise
    /// `ENOPROTOOPT`, the kernel's own answer for an option it does not
    /// know (on an inet socket: `ctx/options.rs` gives a unix socket's).
    pub(crate) fn may_set_option(&self, level: i32, name: i32) -> Result<(), i32> {
        if never_set(level, name) {
            return Err(libc::EACCES);
        }
        if self.inherit_network || self.sockopts.contains(&(level, name)) {
            return Ok(());
        }
        let list = match level {
            SOL_SOCKET => SOL_SOCKET_SET,
            libc::IPPROTO_IP => IP_SET,
            libc::IPPROTO_IPV6 => IPV6_SET,
            libc::IPPROTO_TCP => TCP_SET,
            libc::IPPROTO_UDP => UDP_SET,
            _ => &[],
        };
        if list.contains(&name) {
            Ok(())
        } else if known_refused(level, name) {
            Err(libc::EACCES)
        } else if matches!(level, libc::IPPROTO_IP | libc::IPPROTO_IPV6)
            && (200..=212).contains(&name)
        {
            // The multicast routing options (`MRT_*`, `MRT6_*`), which the
            // kernel refuses on any socket but a raw one.
            Err(libc::EOPNOTSUPP)
        } else {
            Err(libc::ENOPROTOOPT)
        }
    }

    /// Whether the guest may read option `name` at `level`.
    pub(crate) fn may_get_option(&self, level: i32, name: i32) -> bool {
        !never_get(level, name)
    }

    /// Whether the guest may send with `flags`.
    pub(crate) fn may_send(&self, flags: i32) -> bool {
        flags & MSG_ZEROCOPY == 0 && (self.inherit_network || flags & !SEND_FLAGS == 0)
    }

    /// Whether the guest may receive with `flags`.
    pub(crate) fn may_recv(&self, flags: i32) -> bool {
        self.inherit_network || flags & !RECV_FLAGS == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_name_the_kernels_numbers() {
        // Spot checks against libc's constants, so a typo in the lists shows.
        let p = Policy::default();
        for (level, name) in [
            (libc::SOL_SOCKET, libc::SO_REUSEADDR),
            (libc::SOL_SOCKET, libc::SO_LINGER),
            (libc::SOL_SOCKET, libc::SO_PASSCRED),
            (libc::SOL_SOCKET, libc::SO_RCVTIMEO),
            (libc::SOL_SOCKET, libc::SO_REUSEPORT),
            (libc::IPPROTO_IP, libc::IP_TOS),
            (libc::IPPROTO_IP, libc::IP_PKTINFO),
            (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL),
            (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY),
            (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS),
            (libc::IPPROTO_TCP, libc::TCP_NODELAY),
            (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
            (libc::IPPROTO_TCP, libc::TCP_CONGESTION),
            (libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT),
            (libc::IPPROTO_UDP, libc::UDP_SEGMENT),
        ] {
            assert_eq!(p.may_set_option(level, name), Ok(()), "({level}, {name})");
        }
        for (level, name) in [
            (libc::SOL_SOCKET, libc::SO_MARK),
            (libc::SOL_SOCKET, libc::SO_BINDTODEVICE),
            (libc::SOL_SOCKET, libc::SO_ZEROCOPY),
            (libc::SOL_SOCKET, libc::SO_ATTACH_FILTER),
            (libc::SOL_SOCKET, libc::SO_SNDBUFFORCE),
            (libc::IPPROTO_IP, libc::IP_TRANSPARENT),
            (libc::IPPROTO_IP, libc::IP_OPTIONS),
            (libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP),
            (libc::IPPROTO_IPV6, libc::IPV6_RTHDR),
            (libc::IPPROTO_IPV6, libc::IPV6_TRANSPARENT),
            (libc::IPPROTO_TCP, libc::TCP_REPAIR),
            (libc::IPPROTO_TCP, libc::TCP_ULP),
            (libc::IPPROTO_TCP, libc::TCP_MD5SIG),
        ] {
            assert_eq!(
                p.may_set_option(level, name),
                Err(libc::EACCES),
                "({level}, {name})"
            );
        }
        assert_eq!(MSG_ZEROCOPY, libc::MSG_ZEROCOPY);
    }

    #[test]
    fn grants_lift_the_list_but_never_the_never_lists() {
        let mut p = Policy::default();
        p.sockopts.insert((libc::SOL_SOCKET, libc::SO_MARK));
        assert_eq!(p.may_set_option(libc::SOL_SOCKET, libc::SO_MARK), Ok(()));
        assert!(
            p.may_set_option(libc::SOL_SOCKET, libc::SO_BINDTODEVICE)
                .is_err()
        );
        p.sockopts.insert((libc::SOL_SOCKET, libc::SO_ZEROCOPY));
        assert!(
            p.may_set_option(libc::SOL_SOCKET, libc::SO_ZEROCOPY)
                .is_err()
        );

        let p = Policy {
            inherit_network: true,
            ..Policy::default()
        };
        assert_eq!(
            p.may_set_option(libc::SOL_SOCKET, libc::SO_BINDTODEVICE),
            Ok(())
        );
        assert!(
            p.may_set_option(libc::SOL_SOCKET, libc::SO_ZEROCOPY)
                .is_err()
        );
        assert!(
            p.may_set_option(libc::SOL_SOCKET, libc::SO_ATTACH_FILTER)
                .is_err()
        );
        assert!(!p.may_get_option(libc::IPPROTO_TCP, libc::TCP_ZEROCOPY_RECEIVE));
        assert!(p.may_send(libc::MSG_PEEK));
        assert!(!p.may_send(libc::MSG_ZEROCOPY | libc::MSG_DONTWAIT));

        let p = Policy::default();
        assert!(p.may_send(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL | libc::MSG_MORE));
        assert!(!p.may_send(libc::MSG_ZEROCOPY));
        assert!(!p.may_send(libc::MSG_PEEK));
        assert!(p.may_recv(libc::MSG_PEEK | libc::MSG_WAITALL | libc::MSG_TRUNC));
        assert!(!p.may_recv(libc::MSG_ZEROCOPY));
        assert!(
            p.may_get_option(libc::SOL_SOCKET, 92),
            "unknown options stay ENOPROTOOPT"
        );
    }
}
