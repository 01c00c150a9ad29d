//! The fuzz target: random sequences of native calls, driven by proptest,
//! against [`NativesockCtx`]'s checked operations (the code the bindings
//! call), with arbitrary fds, addresses, sizes, flags, options and injected
//! faults.
//!
//! After every call, and after the context is dropped, it checks:
//!
//! * **no panic** (proptest reports one as a failure, shrunk);
//! * **no fd outside the table touched**: the host's own fds (stdio, a
//!   file, listeners) and another store's socket keep their identity,
//!   `FD_CLOEXEC` and `O_NONBLOCK`;
//! * **no fd leak**: the process's open fds are exactly the ones it had
//!   before plus the table's, and after the drop exactly the ones before;
//! * **no access outside policy**: the policy grants only `127.0.0.0/8`
//!   (connect and sendto on a range of ports, bind on any) and one temp
//!   directory for unix sockets; every address a `connect`, `bind` or
//!   `sendto` system call was made with (as the host logs it under
//!   [`ADDRESS_EVENT`], collected by this process's only `tracing`
//!   subscriber) is checked against that grant, independently of
//!   `policy.rs`, and listeners and sockets outside it
//!   (another port, a unix socket behind a symlink that leaves the grant)
//!   must never see a connection or a datagram.
//!
//! Blocking calls are cut short by a 10 ms blocking time cap, which the
//! run exercises too. Each batch runs the calls that can wait in one of
//! the two modes, by its seed: blocking (`add_to_linker`'s) or awaited on
//! a current-thread tokio runtime (`add_to_linker_async`'s).
//!
//! The process's fd count is only meaningful when nothing else runs, so
//! the test [`native_call_sequences`] runs [`native_call_sequences_child`]
//! alone in a child process.
//!
//! * Bounded run (part of `cargo test`): [`DEFAULT_CASES`] cases.
//! * Long run: `NATIVESOCK_FUZZ_SECS=1800 cargo test --release -p
//!   nativesock --lib fuzz -- --nocapture` runs batches of cases with
//!   fresh seeds until the time is up and prints each batch's seed.
//! * Replay: `NATIVESOCK_FUZZ_SEED=<hex>` runs the batch of that seed
//!   (`NATIVESOCK_FUZZ_SHRINK=0` shows the failing case unshrunk).
//!   `NATIVESOCK_FUZZ_CASES` sets the cases per batch.
//!
//! There is no corpus: each batch's cases come from its seed (printed in
//! a long run), and proptest shrinks a failing case before reporting it.
//! Findings so far, all fixed: the granted unix directory's own path was
//! taken as inside the grant; `recvmsg`'s length peek blocked outside the
//! blocking cap; `getsockopt(SO_PEERPIDFD)` left a pidfd open that no store
//! owned.

use std::collections::{BTreeSet, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use tokio::runtime::Runtime;

use crate::ADDRESS_EVENT;
use crate::hooks::{Call, Fault};
use crate::policy::AddressUse;
use crate::sys::{RawAddr, SockAddr};
use crate::wait::Mode;
use crate::{AddressRule, NativesockCtx};

/// The bytes guests send are `0..SENT_ALPHABET`.
const SENT_ALPHABET: usize = 64;

/// Cases in the bounded run.
const DEFAULT_CASES: u32 = 400;
/// The most calls in one case.
const MAX_CALLS: usize = 48;

/// Which fd a call names.
#[derive(Clone, Debug)]
enum FdSel {
    /// The table's `n`th fd (modulo its size; -1 when empty).
    Owned(usize),
    /// One of the fds the store must not reach (see [`World::foreign`]).
    Foreign(usize),
    /// Any number.
    Raw(i32),
}

/// Which address a call passes.
#[derive(Clone, Debug)]
enum AddrSel {
    /// `127.0.0.1` or another loopback, on a port from [`World::ports`] or any.
    Inet([u8; 4], PortSel),
    /// An IPv6 address from a short list, on a port.
    Inet6(usize, PortSel),
    /// A unix path from [`World::unix_paths`].
    Unix(usize),
    /// Arbitrary `sun_path` bytes (abstract names, NULs, long).
    UnixRaw(Vec<u8>),
    /// `AF_UNSPEC`.
    Unspec,
    /// Another family with raw bytes.
    Other(i32, Vec<u8>),
}

#[derive(Clone, Debug)]
enum PortSel {
    /// One of the world's interesting ports.
    Known(usize),
    Any(u16),
}

/// One native call.
#[derive(Clone, Debug)]
enum NativeCall {
    Socket(i32, i32, i32),
    Socketpair(i32, i32, i32),
    Close(FdSel),
    Connect(FdSel, AddrSel),
    Bind(FdSel, AddrSel),
    Listen(FdSel, i32),
    Accept(FdSel, i32),
    Getsockname(FdSel),
    Getpeername(FdSel),
    Getsockopt(FdSel, i32, i32, u32),
    Setsockopt(FdSel, i32, i32, Vec<u8>),
    SetsockoptNull(FdSel, i32, i32, u32),
    Send(FdSel, usize, i32),
    Sendto(FdSel, usize, i32, AddrSel),
    Recv(FdSel, u32, i32),
    Recvfrom(FdSel, u32, i32),
    /// Buffers' sizes, fds to pass (`SCM_RIGHTS`), credentials (`None`:
    /// none, `Some(true)`: the process's own, `Some(false)`: forged),
    /// flags, address.
    Sendmsg(
        FdSel,
        Vec<usize>,
        Vec<FdSel>,
        Option<bool>,
        Vec<(i32, i32, Vec<u8>)>,
        i32,
        Option<AddrSel>,
    ),
    Recvmsg(FdSel, u32, u32, i32),
    Shutdown(FdSel, i32),
    Dup(FdSel),
    GetCloexec(FdSel),
    SetCloexec(FdSel, bool),
    GetNonblocking(FdSel),
    SetNonblocking(FdSel, bool),
    Poll(FdSel, i16, i32),
    PollFds(Vec<(FdSel, i16)>, i32),
    Getaddrinfo(Option<String>, Option<String>, i32, i32, i32),
    Getnameinfo(AddrSel, i32),
    Cancel,
    Reset,
    CheckSignals,
}

/// One case: the store's limits, the faults to inject, the calls.
#[derive(Clone, Debug)]
struct Case {
    max_open: u32,
    max_send: u32,
    max_recv: u32,
    /// Consumed one per system call the injector is asked about.
    faults: Vec<Option<Fault>>,
    calls: Vec<NativeCall>,
}

fn family() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => Just(libc::AF_INET),
        2 => Just(libc::AF_INET6),
        3 => Just(libc::AF_UNIX),
        1 => Just(libc::AF_PACKET),
        1 => Just(libc::AF_NETLINK),
        1 => any::<i32>(),
    ]
}

fn socket_type() -> impl Strategy<Value = i32> {
    let base = prop_oneof![
        4 => Just(libc::SOCK_STREAM),
        3 => Just(libc::SOCK_DGRAM),
        1 => Just(libc::SOCK_SEQPACKET),
        1 => Just(libc::SOCK_RAW),
        1 => any::<i32>(),
    ];
    (base, any::<bool>()).prop_map(|(t, nb)| if nb { t | libc::SOCK_NONBLOCK } else { t })
}

fn proto() -> impl Strategy<Value = i32> {
    prop_oneof![
        6 => Just(0),
        1 => Just(libc::IPPROTO_TCP),
        1 => Just(libc::IPPROTO_UDP),
        1 => Just(libc::IPPROTO_SCTP),
        1 => Just(libc::IPPROTO_ICMP),
        1 => any::<i32>(),
    ]
}

fn fd_sel() -> impl Strategy<Value = FdSel> {
    prop_oneof![
        8 => any::<usize>().prop_map(FdSel::Owned),
        2 => any::<usize>().prop_map(FdSel::Foreign),
        1 => prop_oneof![-2..80i32, any::<i32>()].prop_map(FdSel::Raw),
    ]
}

fn port_sel() -> impl Strategy<Value = PortSel> {
    prop_oneof![
        3 => any::<usize>().prop_map(PortSel::Known),
        1 => any::<u16>().prop_map(PortSel::Any),
    ]
}

fn addr_sel() -> impl Strategy<Value = AddrSel> {
    let v4 = prop_oneof![
        6 => Just([127, 0, 0, 1]),
        1 => Just([127, 1, 2, 3]),
        1 => Just([0, 0, 0, 0]),
        1 => Just([10, 0, 0, 1]),
        1 => Just([255, 255, 255, 255]),
        1 => any::<[u8; 4]>(),
    ];
    prop_oneof![
        6 => (v4, port_sel()).prop_map(|(a, p)| AddrSel::Inet(a, p)),
        2 => (any::<usize>(), port_sel()).prop_map(|(a, p)| AddrSel::Inet6(a, p)),
        3 => any::<usize>().prop_map(AddrSel::Unix),
        1 => proptest::collection::vec(any::<u8>(), 0..120).prop_map(AddrSel::UnixRaw),
        1 => Just(AddrSel::Unspec),
        1 => (any::<i32>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(f, b)| AddrSel::Other(f, b)),
    ]
}

fn flags() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => Just(libc::MSG_DONTWAIT),
        2 => Just(0),
        1 => Just(libc::MSG_PEEK | libc::MSG_DONTWAIT),
        1 => Just(libc::MSG_TRUNC | libc::MSG_DONTWAIT),
        1 => Just(libc::MSG_OOB | libc::MSG_DONTWAIT),
        1 => Just(libc::MSG_ZEROCOPY | libc::MSG_DONTWAIT),
        1 => any::<i32>(),
    ]
}

/// Ancillary items beyond rights and credentials: packet info with and
/// without an interface and with sources inside and outside the grant,
/// source routes, routing headers, TTL, and anything.
fn cmsg() -> impl Strategy<Value = (i32, i32, Vec<u8>)> {
    let pktinfo = (
        0..3i32,
        prop_oneof![Just([127, 0, 0, 2]), Just([0; 4]), any::<[u8; 4]>()],
    )
        .prop_map(|(ifindex, src)| {
            let data = [ifindex.to_ne_bytes(), src, [0; 4]].concat();
            (libc::IPPROTO_IP, libc::IP_PKTINFO, data)
        });
    let pktinfo6 = (0..3i32, any::<bool>()).prop_map(|(ifindex, mapped)| {
        let addr = if mapped {
            Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped()
        } else {
            Ipv6Addr::LOCALHOST
        };
        let data = [addr.octets().to_vec(), ifindex.to_ne_bytes().to_vec()].concat();
        (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, data)
    });
    prop_oneof![
        3 => pktinfo,
        2 => pktinfo6,
        1 => Just((libc::IPPROTO_IP, libc::IP_RETOPTS, vec![0x83, 7, 4, 127, 0, 0, 1, 0])),
        1 => Just((libc::IPPROTO_IPV6, libc::IPV6_RTHDR, vec![0; 24])),
        1 => Just((libc::IPPROTO_IP, libc::IP_TTL, 2i32.to_ne_bytes().to_vec())),
        1 => Just((libc::SOL_SOCKET, libc::SO_MARK, 1i32.to_ne_bytes().to_vec())),
        1 => (any::<i32>(), any::<i32>(), proptest::collection::vec(any::<u8>(), 0..24)),
    ]
}

fn sockopt() -> impl Strategy<Value = (i32, i32)> {
    prop_oneof![
        (
            Just(libc::SOL_SOCKET),
            prop_oneof![
                Just(libc::SO_REUSEADDR),
                Just(libc::SO_ERROR),
                Just(libc::SO_TYPE),
                Just(libc::SO_LINGER),
                Just(libc::SO_RCVBUF),
                Just(libc::SO_SNDBUF),
                Just(libc::SO_RCVTIMEO),
                Just(libc::SO_KEEPALIVE),
                Just(libc::SO_BINDTODEVICE),
                Just(libc::SO_ZEROCOPY),
                Just(libc::SO_PASSCRED),
                Just(libc::SO_MARK),
                Just(libc::SO_ATTACH_FILTER),
                0..90i32,
            ]
        ),
        (
            Just(libc::IPPROTO_TCP),
            prop_oneof![
                Just(libc::TCP_NODELAY),
                Just(libc::TCP_INFO),
                Just(libc::TCP_REPAIR),
                Just(libc::TCP_ZEROCOPY_RECEIVE),
                0..48i32,
            ]
        ),
        (
            Just(libc::IPPROTO_IP),
            prop_oneof![Just(libc::IP_OPTIONS), Just(libc::IP_TRANSPARENT), 0..60i32]
        ),
        (Just(libc::IPPROTO_IPV6), Just(libc::IPV6_V6ONLY)),
        (Just(libc::IPPROTO_IPV6), 0..80i32),
        (any::<i32>(), any::<i32>()),
    ]
}

fn sockopt_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(1i32.to_ne_bytes().to_vec()),
        Just(0i32.to_ne_bytes().to_vec()),
        // `struct linger { 1, 1 }`: a lingering close.
        Just([1i32.to_ne_bytes(), 1i32.to_ne_bytes()].concat()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0..64usize, 2 => 64..5000usize, 1 => 5000..300_000usize]
}

fn recv_len() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0..2000u32, 1 => any::<u32>()]
}

fn native_call() -> impl Strategy<Value = NativeCall> {
    use NativeCall as C;
    prop_oneof![
        6 => (family(), socket_type(), proto()).prop_map(|(f, t, p)| C::Socket(f, t, p)),
        1 => (family(), socket_type(), proto()).prop_map(|(f, t, p)| C::Socketpair(f, t, p)),
        2 => fd_sel().prop_map(C::Close),
        4 => (fd_sel(), addr_sel()).prop_map(|(f, a)| C::Connect(f, a)),
        4 => (fd_sel(), addr_sel()).prop_map(|(f, a)| C::Bind(f, a)),
        2 => (fd_sel(), -2..300i32).prop_map(|(f, b)| C::Listen(f, b)),
        2 => (fd_sel(), prop_oneof![Just(libc::SOCK_NONBLOCK), Just(0), any::<i32>()])
            .prop_map(|(f, fl)| C::Accept(f, fl)),
        1 => fd_sel().prop_map(C::Getsockname),
        1 => fd_sel().prop_map(C::Getpeername),
        2 => (fd_sel(), sockopt(), prop_oneof![0..300u32, any::<u32>()])
            .prop_map(|(f, (l, n), len)| C::Getsockopt(f, l, n, len)),
        2 => (fd_sel(), sockopt(), sockopt_value())
            .prop_map(|(f, (l, n), v)| C::Setsockopt(f, l, n, v)),
        1 => (fd_sel(), sockopt(), any::<u32>())
            .prop_map(|(f, (l, n), len)| C::SetsockoptNull(f, l, n, len)),
        4 => (fd_sel(), size(), flags()).prop_map(|(f, n, fl)| C::Send(f, n, fl)),
        4 => (fd_sel(), size(), flags(), addr_sel()).prop_map(|(f, n, fl, a)| C::Sendto(f, n, fl, a)),
        3 => (fd_sel(), recv_len(), flags()).prop_map(|(f, n, fl)| C::Recv(f, n, fl)),
        3 => (
            fd_sel(),
            proptest::collection::vec(size(), 0..4),
            proptest::collection::vec(fd_sel(), 0..4),
            proptest::option::of(any::<bool>()),
            proptest::collection::vec(cmsg(), 0..3),
            flags(),
            proptest::option::of(addr_sel()),
        )
            .prop_map(|(f, b, r, c, x, fl, a)| C::Sendmsg(f, b, r, c, x, fl, a)),
        2 => (fd_sel(), recv_len(), prop_oneof![0..200u32, any::<u32>()], flags())
            .prop_map(|(f, n, a, fl)| C::Recvmsg(f, n, a, fl)),
        2 => (fd_sel(), recv_len(), flags()).prop_map(|(f, n, fl)| C::Recvfrom(f, n, fl)),
        1 => (fd_sel(), -1..4i32).prop_map(|(f, h)| C::Shutdown(f, h)),
        2 => fd_sel().prop_map(C::Dup),
        1 => fd_sel().prop_map(C::GetCloexec),
        1 => (fd_sel(), any::<bool>()).prop_map(|(f, b)| C::SetCloexec(f, b)),
        1 => fd_sel().prop_map(C::GetNonblocking),
        2 => (fd_sel(), any::<bool>()).prop_map(|(f, b)| C::SetNonblocking(f, b)),
        2 => (fd_sel(), any::<i16>(), prop_oneof![Just(0), Just(1), Just(-1), any::<i32>()])
            .prop_map(|(f, e, t)| C::Poll(f, e, t)),
        1 => (
            proptest::collection::vec((fd_sel(), any::<i16>()), 0..4),
            prop_oneof![Just(0), Just(1), Just(-1), any::<i32>()],
        )
            .prop_map(|(fds, t)| C::PollFds(fds, t)),
        1 => (
            proptest::option::of(prop_oneof![
                Just("127.0.0.1".to_string()), Just("::1".to_string()),
                Just("localhost".to_string()), Just("example.invalid".to_string()),
                "[a-z0-9.:]{0,12}",
            ]),
            proptest::option::of(prop_oneof![Just("80".to_string()), Just("http".to_string()), "[a-z0-9]{0,6}"]),
            prop_oneof![Just(0), Just(libc::AF_INET), Just(libc::AF_INET6), any::<i32>()],
            prop_oneof![Just(0), Just(libc::SOCK_STREAM), any::<i32>()],
            prop_oneof![Just(0), Just(libc::AI_PASSIVE), Just(libc::AI_CANONNAME), any::<i32>()],
        ).prop_map(|(h, p, f, t, fl)| C::Getaddrinfo(h, p, f, t, fl)),
        1 => (addr_sel(), prop_oneof![Just(libc::NI_NUMERICHOST), Just(0), any::<i32>()])
            .prop_map(|(a, f)| C::Getnameinfo(a, f)),
        1 => Just(C::Cancel),
        1 => Just(C::Reset),
        1 => Just(C::CheckSignals),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let fault = prop_oneof![
        12 => Just(None),
        1 => prop_oneof![
            Just(libc::EINTR), Just(libc::EAGAIN), Just(libc::ENOBUFS),
            Just(libc::ECONNRESET), Just(libc::EIO), Just(-2), any::<i32>(),
        ].prop_map(|e| Some(Fault::Errno(e))),
        1 => (0..3000usize).prop_map(|n| Some(Fault::ShortWrite(n))),
        1 => (0..3000usize).prop_map(|n| Some(Fault::ShortRead(n))),
    ];
    (
        prop_oneof![Just(1024u32), 0..12u32],
        prop_oneof![Just(1u32 << 20), 1..5000u32],
        prop_oneof![Just(1u32 << 20), 1..5000u32],
        proptest::collection::vec(fault, 0..64),
        proptest::collection::vec(native_call(), 1..MAX_CALLS),
    )
        .prop_map(|(max_open, max_send, max_recv, faults, calls)| Case {
            max_open,
            max_send,
            max_recv,
            faults,
            calls,
        })
}

/// A host fd the store must not reach, and what it looked like.
struct Foreign {
    fd: RawFd,
    ident: (u64, u64, i32, i32),
}

fn ident(fd: RawFd) -> Option<(u64, u64, i32, i32)> {
    // SAFETY: only inspected, and `fstat` on a closed number fails cleanly.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let stat = rustix::fs::fstat(fd).ok()?;
    let fd_flags = rustix::io::fcntl_getfd(fd).ok()?.bits() as i32;
    let fl_flags = rustix::fs::fcntl_getfl(fd).ok()?.bits() as i32;
    Some((stat.st_dev, stat.st_ino, fd_flags, fl_flags))
}

/// The process's open fds (without the one that lists them).
fn open_fds() -> BTreeSet<RawFd> {
    let dir = rustix::fs::open(
        "/proc/self/fd",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .expect("open /proc/self/fd");
    let own = dir.as_raw_fd();
    let mut fds = BTreeSet::new();
    for entry in rustix::fs::Dir::new(dir).expect("read /proc/self/fd") {
        let entry = entry.expect("a /proc/self/fd entry");
        if let Ok(fd) = entry.file_name().to_string_lossy().parse::<RawFd>()
            && fd != own
        {
            fds.insert(fd);
        }
    }
    fds
}

/// What every case shares: the grant, peers inside and outside it, and
/// the fds no store may reach.
struct World {
    grant: tempfile::TempDir,
    /// Outside the grant: a unix listener and a datagram socket there.
    outside: tempfile::TempDir,
    /// Host listeners on ports inside the connect grant.
    inside_tcp: Vec<TcpListener>,
    inside_udp: UdpSocket,
    /// Host sockets on 127.0.0.1 ports outside the connect grant.
    outside_tcp: TcpListener,
    outside_udp: UdpSocket,
    outside_unix: UnixListener,
    outside_unix_dgram: UnixDatagram,
    /// The granted port range.
    ports: (u16, u16),
    /// Interesting ports: the inside ones, the outside ones, 0, edges.
    known_ports: Vec<u16>,
    unix_paths: Vec<PathBuf>,
    foreign: Vec<Foreign>,
    /// Another store, whose socket is foreign here.
    _other: NativesockCtx,
    _host_file: std::fs::File,
}

impl World {
    fn new() -> World {
        let grant = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        // Inside listeners: a few ephemeral ports, the grant is their span.
        let inside_tcp: Vec<TcpListener> = (0..3)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let inside_udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let mut inside_ports: Vec<u16> = inside_tcp
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        inside_ports.push(inside_udp.local_addr().unwrap().port());
        let lo = *inside_ports.iter().min().unwrap();
        let hi = *inside_ports.iter().max().unwrap();
        // Outside ones: ports not in [lo, hi].
        let outside_tcp =
            bind_outside(|port| TcpListener::bind(("127.0.0.1", port)).ok(), (lo, hi));
        let outside_udp = bind_outside(|port| UdpSocket::bind(("127.0.0.1", port)).ok(), (lo, hi));
        for l in &inside_tcp {
            l.set_nonblocking(true).unwrap();
        }
        outside_tcp.set_nonblocking(true).unwrap();
        inside_udp.set_nonblocking(true).unwrap();
        outside_udp.set_nonblocking(true).unwrap();
        let outside_unix = UnixListener::bind(outside.path().join("listener")).unwrap();
        outside_unix.set_nonblocking(true).unwrap();
        let outside_unix_dgram = UnixDatagram::bind(outside.path().join("dgram")).unwrap();
        outside_unix_dgram.set_nonblocking(true).unwrap();
        // Symlinks out of the grant, and one that stays in.
        std::os::unix::fs::symlink(outside.path(), grant.path().join("out")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("listener"),
            grant.path().join("to-listener"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path().join("dgram"), grant.path().join("to-dgram"))
            .unwrap();
        std::os::unix::fs::symlink(grant.path(), grant.path().join("self")).unwrap();
        std::fs::create_dir(grant.path().join("sub")).unwrap();
        let g = grant.path();
        let unix_paths = vec![
            g.join("a"),
            g.join("b"),
            g.join("sub/c"),
            g.join("sub/../a"),
            g.join("self/b"),
            g.join("out/listener"),
            g.join("out/dgram"),
            g.join("out/new"),
            g.join("to-listener"),
            g.join("to-dgram"),
            g.join("../escape"),
            g.join("sub/../../escape"),
            g.join("missing/x"),
            outside.path().join("listener"),
            outside.path().join("dgram"),
            PathBuf::from("relative-sock"),
            PathBuf::from("/"),
            g.to_path_buf(),
        ];
        let outside_port = outside_tcp.local_addr().unwrap().port();
        let mut known_ports = inside_ports.clone();
        known_ports.extend([
            outside_port,
            outside_udp.local_addr().unwrap().port(),
            0,
            lo.saturating_sub(1),
            hi.saturating_add(1),
            1,
            65535,
        ]);

        let mut other = NativesockCtx::builder().build();
        let theirs = other
            .socket(libc::AF_INET, libc::SOCK_STREAM, 0)
            .expect("another store's socket");
        let host_file = std::fs::File::open("/proc/self/stat").unwrap();
        let mut foreign_fds = vec![0, 1, 2, theirs, host_file.as_raw_fd()];
        foreign_fds.extend(inside_tcp.iter().map(|l| l.as_raw_fd()));
        foreign_fds.extend([
            inside_udp.as_raw_fd(),
            outside_tcp.as_raw_fd(),
            outside_udp.as_raw_fd(),
            outside_unix.as_raw_fd(),
            outside_unix_dgram.as_raw_fd(),
        ]);
        let foreign = foreign_fds
            .into_iter()
            .filter_map(|fd| {
                Some(Foreign {
                    fd,
                    ident: ident(fd)?,
                })
            })
            .collect();
        World {
            grant,
            outside,
            inside_tcp,
            inside_udp,
            outside_tcp,
            outside_udp,
            outside_unix,
            outside_unix_dgram,
            ports: (lo, hi),
            known_ports,
            unix_paths,
            foreign,
            _other: other,
            _host_file: host_file,
        }
    }

    fn ctx(&self, case: &Case) -> NativesockCtx {
        let (lo, hi) = self.ports;
        let range = |ip: &str| -> AddressRule { format!("{ip}/8:{lo}-{hi}").parse().unwrap() };
        let faults = Arc::new(Mutex::new(VecDeque::from(case.faults.clone())));
        NativesockCtx::builder()
            .allow_connect(range("127.0.0.0"))
            .allow_sendto(range("127.0.0.0"))
            .allow_bind("127.0.0.0/8".parse().unwrap())
            .allow_unix_dir(self.grant.path())
            .max_open_sockets(case.max_open)
            .max_send_bytes(case.max_send)
            .max_recv_bytes(case.max_recv)
            .max_blocking_time(Some(Duration::from_millis(10)))
            .audit_hook(|_| Ok(()))
            .inject_faults(move |_: Call| faults.lock().unwrap().pop_front().flatten())
            .build()
    }

    fn fd(&self, ctx: &NativesockCtx, sel: &FdSel) -> RawFd {
        match sel {
            FdSel::Owned(i) => {
                let fds = ctx.owned_fds();
                if fds.is_empty() {
                    -1
                } else {
                    fds[i % fds.len()]
                }
            }
            FdSel::Foreign(i) => self.foreign[i % self.foreign.len()].fd,
            FdSel::Raw(n) => *n,
        }
    }

    fn port(&self, p: &PortSel) -> u16 {
        match p {
            PortSel::Known(i) => self.known_ports[i % self.known_ports.len()],
            PortSel::Any(p) => *p,
        }
    }

    fn addr(&self, a: &AddrSel) -> SockAddr {
        match a {
            AddrSel::Inet(ip, p) => {
                SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::from(*ip), self.port(p)))
            }
            AddrSel::Inet6(i, p) => {
                let ips: [Ipv6Addr; 5] = [
                    Ipv6Addr::LOCALHOST,
                    Ipv6Addr::UNSPECIFIED,
                    Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
                    Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped(),
                    "2001:db8::1".parse().unwrap(),
                ];
                SockAddr::Inet6(SocketAddrV6::new(ips[i % ips.len()], self.port(p), 0, 0))
            }
            AddrSel::Unix(i) => {
                let path = &self.unix_paths[i % self.unix_paths.len()];
                SockAddr::Unix(path.as_os_str().as_encoded_bytes().to_vec())
            }
            AddrSel::UnixRaw(bytes) => SockAddr::Unix(bytes.clone()),
            AddrSel::Unspec => SockAddr::Unspec,
            AddrSel::Other(f, b) => SockAddr::Other(*f, b.clone()),
        }
    }

    /// Whether the grant covers `address` for `op`: the fuzz target's own
    /// reading of the policy it set, independent of `policy.rs`.
    fn granted(&self, op: AddressUse, address: &SockAddr) -> bool {
        let (lo, hi) = self.ports;
        // The host makes an unspecified destination explicit before the
        // call (`route.rs`): one reaching the kernel is a finding.
        let ip_ok = |ip: Ipv4Addr, port: u16| {
            ip.octets()[0] == 127 && (op == AddressUse::Bind || (lo..=hi).contains(&port))
        };
        match address {
            SockAddr::Unspec => true,
            SockAddr::Inet(a) => ip_ok(*a.ip(), a.port()),
            SockAddr::Inet6(a) => match a.ip().to_ipv4_mapped() {
                Some(v4) => ip_ok(v4, a.port()),
                None => false,
            },
            SockAddr::Unix(name) => {
                let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
                if name.is_empty() {
                    return false;
                }
                let path =
                    Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name));
                let grant = self.grant.path().canonicalize().unwrap();
                // Where the kernel ends up: the final symlink followed for
                // connect and sendto, the parent resolved for all.
                if op != AddressUse::Bind
                    && let Ok(target) = path.canonicalize()
                {
                    return target != grant && target.starts_with(&grant);
                }
                let parent = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                match parent.canonicalize() {
                    // `..` as the last part is the parent's parent.
                    _ if path.file_name().is_none() => false,
                    Ok(parent) => parent.starts_with(&grant),
                    // A missing directory: the call cannot have reached anything.
                    Err(_) => true,
                }
            }
            SockAddr::Other(..) => false,
        }
    }

    /// Nothing outside the grant saw a connection or a datagram.
    fn assert_outside_untouched(&self) -> Result<(), TestCaseError> {
        let mut buf = [0u8; 16];
        prop_assert!(
            self.outside_tcp.accept().is_err(),
            "a connection reached a port outside the grant"
        );
        prop_assert!(
            self.outside_udp.recv(&mut buf).is_err(),
            "a datagram reached a port outside the grant"
        );
        prop_assert!(
            self.outside_unix.accept().is_err(),
            "a connection reached a unix socket outside the grant"
        );
        prop_assert!(
            self.outside_unix_dgram.recv(&mut buf).is_err(),
            "a datagram reached a unix socket outside the grant"
        );
        Ok(())
    }

    /// What the peers inside the grant received is only ever bytes a guest
    /// sent (see `SENT_ALPHABET`): connections are accepted and read, and
    /// datagrams read, without waiting.
    fn check_peers(&self) -> Result<(), TestCaseError> {
        use std::io::Read;
        let mut buf = [0u8; 65536];
        for l in &self.inside_tcp {
            while let Ok((mut stream, _)) = l.accept() {
                stream.set_nonblocking(true).unwrap();
                let mut total = 0;
                while total < 4 << 20 {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            total += n;
                            let stray = buf[..n].iter().find(|&&b| usize::from(b) >= SENT_ALPHABET);
                            prop_assert!(
                                stray.is_none(),
                                "a peer read a byte no guest sent: {stray:?}"
                            );
                        }
                    }
                }
            }
        }
        while let Ok(n) = self.inside_udp.recv(&mut buf) {
            let stray = buf[..n].iter().find(|&&b| usize::from(b) >= SENT_ALPHABET);
            prop_assert!(
                stray.is_none(),
                "a datagram held a byte no guest sent: {stray:?}"
            );
        }
        Ok(())
    }

    /// Empties what the inside peers received, so the next case starts afresh.
    fn drain(&self) {
        for l in &self.inside_tcp {
            while l.accept().is_ok() {}
        }
        let mut buf = [0u8; 65536];
        while self.inside_udp.recv(&mut buf).is_ok() {}
        for entry in std::fs::read_dir(self.grant.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if entry
                .file_type()
                .is_ok_and(|t| !t.is_dir() && !t.is_symlink())
            {
                let _ = std::fs::remove_file(path);
            }
        }
        let _ = std::fs::remove_file(self.grant.path().join("sub/c"));
        let _ = std::fs::remove_file("relative-sock");
        let _ = std::fs::remove_file(self.outside.path().join("new"));
        let _ = std::fs::remove_file(self.grant.path().parent().unwrap().join("escape"));
    }
}

/// A socket bound by `bind` to a 127.0.0.1 port outside `range`: the
/// free ports above it, then those below it (unprivileged ones), tried in
/// turn. (Asking the kernel for ephemeral ports until one falls outside
/// failed when the inside ports spanned most of the ephemeral range.)
fn bind_outside<T>(bind: impl Fn(u16) -> Option<T>, range: (u16, u16)) -> T {
    let above = (range.1..=u16::MAX).skip(1);
    let below = 1024..range.0;
    above
        .chain(below)
        .take(5_000)
        .find_map(bind)
        .unwrap_or_else(|| panic!("no free port outside {range:?}"))
}

/// Whether a call succeeded (counted, to see that the cases do something).
fn ok<T, E>(r: Result<T, E>) -> bool {
    r.is_ok()
}

/// Makes one call; the results themselves may be anything but a panic.
fn call(world: &World, ctx: &mut NativesockCtx, c: &NativeCall, rt: Option<&Runtime>) -> bool {
    use NativeCall as C;
    // A call that can wait, in the batch's mode: blocking, or awaited on
    // a current-thread runtime (`add_to_linker_async`'s path).
    macro_rules! wait {
        ($ctx:ident . $method:ident ( $($arg:expr),* $(,)? )) => {
            match rt {
                None => crate::wait::now($ctx.$method(Mode::Blocking, $($arg),*)),
                Some(rt) => rt.block_on($ctx.$method(Mode::Awaiting, $($arg),*)),
            }
        };
    }
    // Every byte a guest sends is below `SENT_ALPHABET`: a peer that reads
    // another byte got something the guest never sent (host memory).
    let data = |n: usize| -> Vec<u8> { (0..n).map(|i| (i % SENT_ALPHABET) as u8).collect() };
    match c {
        C::Socket(f, t, p) => ok(ctx.socket(*f, *t, *p)),
        C::Socketpair(f, t, p) => ok(ctx.socketpair(*f, *t, *p)),
        C::Close(fd) => {
            let fd = world.fd(ctx, fd);
            ok(wait!(ctx.close_in(fd)))
        }
        C::Connect(fd, a) => {
            let (fd, a) = (world.fd(ctx, fd), world.addr(a));
            ok(wait!(ctx.connect_in(fd, &a)))
        }
        C::Bind(fd, a) => ok(ctx.bind(world.fd(ctx, fd), &world.addr(a))),
        C::Listen(fd, b) => ok(ctx.listen(world.fd(ctx, fd), *b)),
        C::Accept(fd, fl) => {
            let fd = world.fd(ctx, fd);
            ok(wait!(ctx.accept_in(fd, *fl)))
        }
        C::Getsockname(fd) => ok(ctx.getsockname(world.fd(ctx, fd))),
        C::Getpeername(fd) => ok(ctx.getpeername(world.fd(ctx, fd))),
        C::Getsockopt(fd, l, n, len) => ok(ctx.getsockopt(world.fd(ctx, fd), *l, *n, *len)),
        C::Setsockopt(fd, l, n, v) => ok(ctx.setsockopt(world.fd(ctx, fd), *l, *n, v)),
        C::SetsockoptNull(fd, l, n, len) => {
            ok(ctx.setsockopt_null(world.fd(ctx, fd), *l, *n, *len))
        }
        C::Send(fd, n, fl) => {
            let fd = world.fd(ctx, fd);
            ok(wait!(ctx.send_in(fd, &data(*n), *fl)))
        }
        C::Sendto(fd, n, fl, a) => {
            let (fd, a) = (world.fd(ctx, fd), world.addr(a));
            ok(wait!(ctx.sendto_in(fd, &data(*n), *fl, &a)))
        }
        C::Sendmsg(fd, sizes, rights, creds, extra, fl, a) => {
            let buffers: Vec<Vec<u8>> = sizes.iter().map(|&n| data(n)).collect();
            let mut ancillary = Vec::new();
            if !rights.is_empty() {
                let fds: Vec<u8> = rights
                    .iter()
                    .flat_map(|r| world.fd(ctx, r).to_ne_bytes())
                    .collect();
                ancillary.push(crate::sys::Cmsg {
                    level: libc::SOL_SOCKET,
                    kind: libc::SCM_RIGHTS,
                    data: fds,
                });
            }
            if let Some(own) = creds {
                // SAFETY: no preconditions.
                let pid = unsafe { libc::getpid() } + i32::from(!own);
                let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
                let data = [pid.to_ne_bytes(), uid.to_ne_bytes(), gid.to_ne_bytes()].concat();
                ancillary.push(crate::sys::Cmsg {
                    level: libc::SOL_SOCKET,
                    kind: libc::SCM_CREDENTIALS,
                    data,
                });
            }
            for (level, kind, data) in extra {
                ancillary.push(crate::sys::Cmsg {
                    level: *level,
                    kind: *kind,
                    data: data.clone(),
                });
            }
            let address = a.as_ref().map(|a| world.addr(a));
            let fd = world.fd(ctx, fd);
            let buffers: Vec<&[u8]> = buffers.iter().map(Vec::as_slice).collect();
            ok(wait!(ctx.sendmsg_in(
                fd,
                &buffers,
                &ancillary,
                *fl,
                address.as_ref()
            )))
        }
        C::Recvmsg(fd, n, anc, fl) => {
            let fd = world.fd(ctx, fd);
            ok(wait!(ctx.recvmsg_in(fd, *n, *anc, *fl)))
        }
        C::Recv(fd, n, fl) => {
            let fd = world.fd(ctx, fd);
            ok(wait!(ctx.recv_in(fd, *n, *fl)))
        }
        C::Recvfrom(fd, n, fl) => {
            let fd = world.fd(ctx, fd);
            ok(wait!(ctx.recvfrom_in(fd, *n, *fl)))
        }
        C::Shutdown(fd, how) => ok(ctx.shutdown(world.fd(ctx, fd), *how)),
        C::Dup(fd) => ok(ctx.dup(world.fd(ctx, fd))),
        C::GetCloexec(fd) => ok(ctx.get_cloexec(world.fd(ctx, fd))),
        C::SetCloexec(fd, b) => ok(ctx.set_cloexec(world.fd(ctx, fd), *b)),
        C::GetNonblocking(fd) => ok(ctx.get_nonblocking(world.fd(ctx, fd))),
        C::SetNonblocking(fd, b) => ok(ctx.set_nonblocking(world.fd(ctx, fd), *b)),
        // Short waits only: the blocking cap covers longer ones anyway.
        C::Poll(fd, e, t) => {
            let fd = world.fd(ctx, fd);
            ok(wait!(ctx.poll_in(fd, *e, (*t).clamp(-1, 5))))
        }
        C::PollFds(fds, t) => {
            let fds: Vec<(RawFd, i16)> = fds.iter().map(|(f, e)| (world.fd(ctx, f), *e)).collect();
            ok(wait!(ctx.poll_fds_in(&fds, (*t).clamp(-1, 5))))
        }
        C::Getaddrinfo(h, p, f, t, fl) => ok(wait!(ctx.getaddrinfo_in(
            h.as_deref(),
            p.as_deref(),
            *f,
            *t,
            0,
            *fl
        ))),
        C::Getnameinfo(a, fl) => {
            let a = world.addr(a);
            ok(wait!(ctx.getnameinfo_in(&a, *fl)))
        }
        C::Cancel => {
            ctx.cancel_handle().cancel();
            true
        }
        C::Reset => {
            ctx.cancel_handle().reset();
            true
        }
        C::CheckSignals => ok(ctx.check_signals()),
    }
}

/// The addresses the host logged under [`ADDRESS_EVENT`] since the last
/// check, in order.
static REACHED: Mutex<Vec<(AddressUse, SockAddr)>> = Mutex::new(Vec::new());

/// The addresses checked over the run: none would mean the events stopped
/// arriving and the invariant checked nothing.
static CHECKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A `tracing` subscriber that keeps the host's [`ADDRESS_EVENT`] events in
/// [`REACHED`] and has no interest in anything else.
struct AddressLog;

impl AddressLog {
    fn wanted(metadata: &tracing::Metadata<'_>) -> bool {
        // The host asks with `enabled!` (a hint callsite) before logging.
        metadata.target() == ADDRESS_EVENT
    }
}

impl tracing::Subscriber for AddressLog {
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if Self::wanted(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        Self::wanted(metadata)
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        #[derive(Default)]
        struct Fields {
            op: Option<AddressUse>,
            sockaddr: Option<Vec<u8>>,
        }
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "op" {
                    self.op = match format!("{value:?}").as_str() {
                        "Connect" => Some(AddressUse::Connect),
                        "Bind" => Some(AddressUse::Bind),
                        "Sendto" => Some(AddressUse::Sendto),
                        other => panic!("an {ADDRESS_EVENT} event with op {other}"),
                    };
                }
            }

            fn record_bytes(&mut self, field: &tracing::field::Field, value: &[u8]) {
                if field.name() == "sockaddr" {
                    self.sockaddr = Some(value.to_vec());
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let (Some(op), Some(bytes)) = (fields.op, fields.sockaddr) else {
            panic!("an {ADDRESS_EVENT} event without op and sockaddr");
        };
        let address = SockAddr::from_raw(&RawAddr::from_bytes(&bytes));
        REACHED.lock().unwrap().push((op, address));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Runs one case and checks the invariants.
/// Calls made and calls that succeeded, over the run.
static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static SUCCEEDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn run_case(
    world: &World,
    baseline: &BTreeSet<RawFd>,
    case: &Case,
    rt: Option<&Runtime>,
) -> Result<(), TestCaseError> {
    let result = run_case_inner(world, baseline, case, rt);
    // A failing case may have leaked fds: close them, so that the cases
    // proptest runs while shrinking start from the same process.
    for fd in open_fds().difference(baseline) {
        // SAFETY: an fd nothing in this process owns any more.
        unsafe { libc::close(*fd) };
    }
    result
}

fn run_case_inner(
    world: &World,
    baseline: &BTreeSet<RawFd>,
    case: &Case,
    rt: Option<&Runtime>,
) -> Result<(), TestCaseError> {
    world.drain();
    let mut ctx = world.ctx(case);
    // Every socket the store held at some point, by inode.
    let mut held = BTreeSet::new();
    for (i, c) in case.calls.iter().enumerate() {
        let succeeded = call(world, &mut ctx, c, rt);
        for fd in ctx.owned_fds().into_iter().chain(ctx.parked_fds()) {
            if let Some((_, ino, _, _)) = ident(fd) {
                held.insert(ino);
            }
        }
        CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        SUCCEEDED.fetch_add(u64::from(succeeded), std::sync::atomic::Ordering::Relaxed);
        // Every foreign fd is as it was.
        for f in &world.foreign {
            prop_assert_eq!(
                ident(f.fd),
                Some(f.ident),
                "call {} ({:?}) changed foreign fd {}",
                i,
                c,
                f.fd
            );
        }
        // The process holds exactly the baseline plus the table (and the
        // copies of the fds the store has in flight).
        let mut expected = baseline.clone();
        expected.extend(ctx.owned_fds());
        expected.extend(ctx.parked_fds());
        let open = open_fds();
        prop_assert_eq!(
            &open,
            &expected,
            "call {} ({:?}): open fds differ from baseline + table",
            i,
            c
        );
        // Every address a system call was made with is in the grant.
        for (op, address) in std::mem::take(&mut *REACHED.lock().unwrap()) {
            CHECKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            prop_assert!(
                world.granted(op, &address),
                "call {} ({:?}) reached {:?} {:?} outside the grant",
                i,
                c,
                op,
                address
            );
        }
        world.assert_outside_untouched()?;
    }
    drop(ctx);
    prop_assert_eq!(
        &open_fds(),
        baseline,
        "fds left open after the store was dropped"
    );
    // No socket the store held lives on, in flight or not: the kernel's
    // own tables list none of them.
    let alive: Vec<u64> = kernel_socket_inodes()
        .intersection(&held)
        .copied()
        .collect();
    prop_assert!(
        alive.is_empty(),
        "sockets outlived the store: inodes {alive:?}"
    );
    world.check_peers()?;
    Ok(())
}

/// The inodes of every socket the kernel lists in this network namespace
/// (TCP, UDP, both families, and unix), orphans excluded (inode 0).
fn kernel_socket_inodes() -> BTreeSet<u64> {
    let mut inodes = BTreeSet::new();
    for (table, column) in [
        ("tcp", 9),
        ("tcp6", 9),
        ("udp", 9),
        ("udp6", 9),
        ("unix", 6),
    ] {
        let text = std::fs::read_to_string(format!("/proc/self/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            if let Some(ino) = line
                .split_whitespace()
                .nth(column)
                .and_then(|i| i.parse().ok())
                && ino != 0
            {
                inodes.insert(ino);
            }
        }
    }
    inodes
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn seed_hex(seed: &[u8; 32]) -> String {
    seed.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_seed(hex: &str) -> [u8; 32] {
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("a 64-digit hex seed");
    }
    seed
}

/// Runs one batch of `cases` cases from `seed`; the number run.
/// The batch's mode, from its seed (so that a replay runs it the same):
/// odd first byte, the awaiting mode on `rt`.
fn mode_of<'r>(seed: &[u8; 32], rt: &'r Runtime) -> Option<&'r Runtime> {
    (seed[0] & 1 == 1).then_some(rt)
}

fn batch(
    world: &World,
    baseline: &BTreeSet<RawFd>,
    seed: [u8; 32],
    cases: u32,
    rt: &Runtime,
) -> u32 {
    let rt = mode_of(&seed, rt);
    let config = Config {
        cases,
        failure_persistence: None,
        // `NATIVESOCK_FUZZ_SHRINK=0` reports the first failing case as it was.
        max_shrink_iters: env("NATIVESOCK_FUZZ_SHRINK").unwrap_or(2000),
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let ran = std::cell::Cell::new(0u32);
    let result = runner.run(&case(), |case| {
        ran.set(ran.get() + 1);
        run_case(world, baseline, &case, rt)
    });
    if let Err(e) = result {
        panic!(
            "fuzz finding with seed {} (replay: NATIVESOCK_FUZZ_SEED={0}): {e}",
            seed_hex(&seed)
        );
    }
    ran.get()
}

#[test]
#[ignore = "run alone in a child process by `native_call_sequences`"]
fn native_call_sequences_child() {
    // Paths relative to the current directory land in a temp directory.
    let cwd = tempfile::tempdir().unwrap();
    std::env::set_current_dir(cwd.path()).unwrap();
    // The process's only subscriber: it collects the addresses the host's
    // system calls were made with, for the policy invariant.
    tracing::subscriber::set_global_default(AddressLog).expect("the only subscriber");
    let world = World::new();
    // The awaiting mode's runtime, made before the baseline: its own fds
    // (epoll, eventfd) are the process's, not a store's.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let baseline = open_fds();
    let cases = env("NATIVESOCK_FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let start = Instant::now();
    let mut total = 0u64;
    let mut batches = 0u64;
    if let Ok(hex) = std::env::var("NATIVESOCK_FUZZ_SEED") {
        total += u64::from(batch(&world, &baseline, parse_seed(&hex), cases, &rt));
        batches += 1;
    } else {
        let secs: u64 = env("NATIVESOCK_FUZZ_SECS").unwrap_or(0);
        loop {
            let mut seed = [0u8; 32];
            // SAFETY: `seed` has room for the 32 bytes asked for.
            let n = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
            assert_eq!(n, 32, "getrandom");
            let n = batch(&world, &baseline, seed, cases, &rt);
            total += u64::from(n);
            batches += 1;
            if secs > 0 {
                println!(
                    "fuzz batch {batches}: seed {} ok ({}), {n} cases ({total} in {:.0} s)",
                    seed_hex(&seed),
                    if mode_of(&seed, &rt).is_some() {
                        "awaiting"
                    } else {
                        "blocking"
                    },
                    start.elapsed().as_secs_f64()
                );
            }
            if start.elapsed() >= Duration::from_secs(secs) {
                break;
            }
        }
    }
    let checked = CHECKED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        checked > 0,
        "no {ADDRESS_EVENT} event reached the policy check"
    );
    println!(
        "fuzz: {total} cases in {batches} batches ({} calls, {} succeeded, {checked} addresses \
         checked), {:.1} s, no finding",
        CALLS.load(std::sync::atomic::Ordering::Relaxed),
        SUCCEEDED.load(std::sync::atomic::Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    drop(world);
}

/// The fuzz target, bounded (see the module docs for the long run).
#[test]
fn native_call_sequences() {
    let secs: u64 = env("NATIVESOCK_FUZZ_SECS").unwrap_or(0);
    // Bounded: the run's time plus a generous margin for the cases.
    let stdout = crate::test_support::run_alone(
        "fuzz::native_call_sequences_child",
        Duration::from_secs(secs + 600),
    );
    println!("{stdout}");
}
