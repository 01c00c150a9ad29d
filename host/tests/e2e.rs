//! End-to-end tests: each runs the test program of the same name
//! (`tests/programs/src/bin/NAME.rs`), composed with the semantics component,
//! through `nativesock::run` on real loopback sockets, and checks what the
//! program and the host's hooks saw against CPython 3.11's behaviour.

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::Duration;

use common::*;
use nativesock::{AuditArg, AuditEvent, AuditScalar, Call, Fault, Raised, SocketRef};

use nativesock_test_programs_artifacts::*;

/// A program without a test here is a compile error.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}
foreach_e2e_program!(assert_test_exists);

/// Runs a program that checks everything itself.
fn run_checked(path: &str, ctx: &mut nativesock::NativesockCtxBuilder) -> Output {
    let output = run(&component(path), &[], ctx);
    output.assert_success();
    output
}

#[test]
fn connect_blocking() {
    run_checked(CONNECT_BLOCKING, &mut loopback());
}

#[test]
fn connect_refused() {
    run_checked(CONNECT_REFUSED, &mut loopback());
}

#[test]
fn connect_nonblocking() {
    run_checked(CONNECT_NONBLOCKING, &mut loopback());
}

#[test]
fn connect_timeout() {
    run_checked(CONNECT_TIMEOUT, &mut loopback());
}

/// The signal check the tests plug in: runs the "Python handler" for every
/// signal that arrived, counting them in `handled`; the handler raises
/// `raises` when it is set.
fn signal_check(
    ctx: &mut nativesock::NativesockCtxBuilder,
    raises: Option<Raised>,
) -> Arc<AtomicUsize> {
    let handled = Arc::new(AtomicUsize::new(0));
    let count = handled.clone();
    ctx.signal_check(move || {
        let arrived = take_signals();
        if arrived == 0 {
            return Ok(());
        }
        count.fetch_add(arrived, Ordering::SeqCst);
        raises.clone().map_or(Ok(()), Err)
    });
    handled
}

#[test]
fn connect_signal_timeout() {
    let _signals = signals();
    let mut ctx = loopback();
    let handled = signal_check(&mut ctx, None);
    let program = Running::start(&component(CONNECT_SIGNAL_TIMEOUT), &[], ctx);
    for n in 1..=2 {
        program.wait_for_line("connecting", n);
        sleep(Duration::from_millis(300));
        program.signal(libc::SIGUSR1);
    }
    program.finish().assert_success();
    assert_eq!(
        handled.load(Ordering::SeqCst),
        2,
        "each signal interrupts a poll and its handler runs"
    );
}

#[test]
fn connect_signal_raises() {
    let _signals = signals();
    let mut ctx = loopback();
    let division = Raised::new("ZeroDivisionError", "division by zero");
    let handled = signal_check(&mut ctx, Some(division));
    let program = Running::start(&component(CONNECT_SIGNAL_RAISES), &[], ctx);
    for n in 1..=2 {
        program.wait_for_line("connecting", n);
        sleep(Duration::from_millis(300));
        program.signal(libc::SIGUSR1);
    }
    program.finish().assert_success();
    assert_eq!(handled.load(Ordering::SeqCst), 2);
}

#[test]
fn connect_signal_returns() {
    let _signals = signals();
    // A listener whose accept queue is full: listen(0) plus one connection.
    let socket = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::STREAM,
        None,
    )
    .unwrap();
    rustix::net::bind(
        &socket,
        &"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
    )
    .unwrap();
    rustix::net::listen(&socket, 0).unwrap();
    let listener = TcpListener::from(socket);
    let port = listener.local_addr().unwrap().port().to_string();
    let _queued = TcpStream::connect(listener.local_addr().unwrap()).unwrap();

    let mut ctx = loopback();
    let handled = signal_check(&mut ctx, None);
    let program = Running::start(&component(CONNECT_SIGNAL_RETURNS), &[&port], ctx);
    program.wait_for_line("connecting", 1);
    sleep(Duration::from_millis(300));
    program.signal(libc::SIGUSR1);
    sleep(Duration::from_millis(300));
    // Frees the queue: the kernel's next SYN from the guest gets through.
    let (_first, _) = listener.accept().unwrap();
    program.finish().assert_success();
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    let (_guest, peer) = listener.accept().unwrap();
    assert!(peer.ip().is_loopback());
}

/// A fault injector that fails `call` with `errno` when `fail(n)` is true
/// for the `n`th such call (from 0), and counts the calls.
fn inject(
    ctx: &mut nativesock::NativesockCtxBuilder,
    call: Call,
    errno: i32,
    fail: fn(usize) -> bool,
) -> Arc<AtomicUsize> {
    script(ctx, call, move |n| fail(n).then_some(Fault::Errno(errno)))
}

#[test]
fn connect_eintr_injected() {
    let mut ctx = loopback();
    let connects = inject(&mut ctx, Call::Connect, libc::EINTR, |_| true);
    run_checked(CONNECT_EINTR_INJECTED, &mut ctx);
    assert_eq!(connects.load(Ordering::SeqCst), 2);
}

#[test]
fn connect_poll_eintr() {
    let mut ctx = loopback();
    let polls = inject(&mut ctx, Call::Poll, libc::EINTR, |n| n % 2 == 0);
    run_checked(CONNECT_POLL_EINTR, &mut ctx);
    // One interrupted and one good poll per connect, at least.
    let polls = polls.load(Ordering::SeqCst);
    assert!(polls >= 6, "{polls} polls");
}

#[test]
fn fd_isolation() {
    let component = component(FD_ISOLATION);
    let owner = Running::start(&component, &["owner"], loopback());
    let listening = owner.wait_for_line("listening ", 1);
    let [fd, port] = <[String; 2]>::try_from(listening).expect("listening FD PORT");
    let intruder = run(&component, &["intruder", &fd, &port], &mut loopback());
    intruder.assert_success();
    owner.finish().assert_success();
}

#[test]
fn host_fds_unreachable() {
    let host_socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = host_socket.as_raw_fd().to_string();
    run(
        &component(HOST_FDS_UNREACHABLE),
        &["0", "1", "2", &fd],
        &mut loopback(),
    )
    .assert_success();
    host_socket
        .local_addr()
        .expect("the host's socket is still open");
    for stdio in 0..=2 {
        // SAFETY: the test process's stdio stays open for the whole test.
        let fd = unsafe { BorrowedFd::borrow_raw(stdio) };
        rustix::io::fcntl_getfd(fd).expect("the host's stdio is still open");
    }
}

fn socket_arg(fd: i32) -> AuditArg {
    AuditArg::Socket(SocketRef {
        fd,
        family: libc::AF_INET,
        socket_type: libc::SOCK_STREAM,
        proto: 0,
    })
}

fn address(host: &str, port: i64) -> AuditArg {
    AuditArg::Tuple(vec![AuditScalar::Str(host.into()), AuditScalar::Int(port)])
}

/// Checks a `socket.__new__` event: CPython passes the new object before
/// its fd exists, so only the other arguments are compared.
#[track_caller]
fn assert_new(event: &AuditEvent) {
    assert_eq!(event.name, "socket.__new__", "{event:?}");
    assert!(
        matches!(event.args[..], [AuditArg::Socket(_), _, _, _]),
        "{event:?}"
    );
    let int = |i| AuditArg::Scalar(AuditScalar::Int(i));
    let expected = [
        int(libc::AF_INET.into()),
        int(libc::SOCK_STREAM.into()),
        int(0),
    ];
    assert_eq!(event.args[1..], expected, "{event:?}");
}

#[test]
fn audit_events() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut ctx = loopback();
    let seen = events.clone();
    ctx.audit_hook(move |event| {
        seen.lock().unwrap().push(event.clone());
        Ok(())
    });
    let output = run_checked(AUDIT_EVENTS, &mut ctx);
    let [listener, port] = <[String; 2]>::try_from(output.line("listener ")).unwrap();
    let listener: i32 = listener.parse().unwrap();
    let port: i64 = port.parse().unwrap();
    let client: i32 = output.line("client ")[0].parse().unwrap();

    let events = events.lock().unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "socket.__new__",
            "socket.bind",
            "socket.__new__",
            "socket.bind",
            "socket.connect",
            // `accept()` wraps the new fd in a socket object.
            "socket.__new__",
            "socket.__new__",
            "socket.connect",
            // `loopback()` grants no IPv6 connect.
            "nativesock.denied",
        ]
    );
    assert_new(&events[0]);
    assert_eq!(
        events[1].args,
        [socket_arg(listener), address("127.0.0.1", 0)]
    );
    assert_new(&events[2]);
    assert_eq!(
        events[3].args,
        [socket_arg(client), address("127.0.0.1", 0)]
    );
    assert_eq!(
        events[4].args,
        [socket_arg(client), address("127.0.0.1", port)]
    );
    assert_new(&events[5]);
    let six: i32 = output.line("six ")[0].parse().unwrap();
    assert_eq!(
        events[7].args,
        [
            AuditArg::Socket(SocketRef {
                fd: six,
                family: libc::AF_INET6,
                socket_type: libc::SOCK_STREAM,
                proto: 0,
            }),
            AuditArg::Tuple(vec![
                AuditScalar::Str("::1".into()),
                AuditScalar::Int(port),
                AuditScalar::BigInt("18446744073709551621".into()),
            ])
        ]
    );
}

#[test]
fn audit_denied() {
    let mut ctx = loopback();
    let denied = Arc::new(AtomicUsize::new(0));
    let count = denied.clone();
    ctx.audit_hook(move |event| {
        if event.name != "socket.connect" {
            return Ok(());
        }
        count.fetch_add(1, Ordering::SeqCst);
        Err(Raised::new("RuntimeError", "socket.connect is not allowed"))
    });
    // Not a fault: only counts the connect syscalls the host is asked for.
    let connects = inject(&mut ctx, Call::Connect, 0, |_| false);
    run_checked(AUDIT_DENIED, &mut ctx);
    assert_eq!(denied.load(Ordering::SeqCst), 2);
    assert_eq!(
        connects.load(Ordering::SeqCst),
        0,
        "no connect reached the host"
    );
}

#[test]
fn no_socket_import() {
    let output = run_checked(NO_SOCKET_IMPORT, &mut loopback());
    assert_eq!(output.stdout, "no sockets here\n");
}

/// The demo is not a test program, but it is the product's first impression.
#[test]
fn demo_tours_loopback() {
    let output = run(
        &component_from(nativesock::artifacts::DEMO),
        &[],
        &mut loopback(),
    );
    output.assert_success();
    let ends = |suffix: &str| {
        assert!(
            output.stdout.lines().any(|l| l.ends_with(suffix)),
            "no line ending with {suffix:?} in:\n{}",
            output.stdout
        );
    };
    ends("-> raise ConnectionRefusedError: [Errno 111] Connection refused");
    ends("-> 111");
    ends("-> raise TimeoutError: timed out");
    ends("-> 114");
    let connect = output
        .stdout
        .lines()
        .find(|l| l.starts_with("s.connect(('127.0.0.1', "))
        .unwrap_or_else(|| panic!("no s.connect line in:\n{}", output.stdout));
    assert!(connect.ends_with(")) -> None"), "{connect}");
    assert_eq!(output.stderr, "");
}

/// Ctrl-C during the demo's timeout connect ends it as it ends Python.
#[test]
fn demo_keyboard_interrupt() {
    let _signals = signals();
    let mut ctx = loopback();
    signal_check(&mut ctx, Some(Raised::keyboard_interrupt()));
    let demo = Running::start(&component_from(nativesock::artifacts::DEMO), &[], ctx);
    demo.wait_for_line("t.settimeout(1.0) -> None", 1);
    sleep(Duration::from_millis(300));
    demo.signal(libc::SIGUSR1);
    let output = demo.finish();
    output.assert_exit(130);
    assert_eq!(output.stderr, "KeyboardInterrupt\n");
    assert!(
        output.stdout.ends_with("-> raise KeyboardInterrupt\n"),
        "{}",
        output.stdout
    );
}

/// Runs the differential snippet `NAME.py` (after `prelude.py`, both in
/// `tests/differential/`) with `python3`, CPython 3.11: its stdout, and
/// the names of the socket audit events CPython raised. python3 is on
/// every machine that runs these tests: a missing one fails the test
/// rather than skipping it.
fn python(snippet: &str, args: &[&str]) -> (String, Vec<String>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential");
    let read = |name: &str| {
        std::fs::read_to_string(format!("{dir}/{name}"))
            .unwrap_or_else(|e| panic!("failed to read `{dir}/{name}`: {e}"))
    };
    let code = format!("{}\n{}", read("prelude.py"), read(&format!("{snippet}.py")));
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("failed to run `python3`: the differential tests compare with CPython 3.11");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python3 failed on `{snippet}.py`:\n{stderr}"
    );
    let events = stderr
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    (
        String::from_utf8(output.stdout).expect("python3 prints UTF-8"),
        events,
    )
}

/// Runs the program and its snippet with `args` and compares their
/// stdout line by line, and the sequence of socket audit events.
fn differential(
    program: &str,
    snippet: &str,
    args: &[&str],
    ctx: &mut nativesock::NativesockCtxBuilder,
) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    ctx.audit_hook(move |event| {
        seen.lock().unwrap().push(event.name.clone());
        Ok(())
    });
    let output = run(&component(program), args, ctx);
    output.assert_success();
    let (expected, cpython_events) = python(snippet, args);
    let got: Vec<&str> = output.stdout.lines().collect();
    let want: Vec<&str> = expected.lines().collect();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "nativesock (left) and CPython (right) differ");
    }
    assert_eq!(
        got.len(),
        want.len(),
        "nativesock:\n{}\nCPython:\n{expected}",
        output.stdout
    );
    assert_eq!(
        *events.lock().unwrap(),
        cpython_events,
        "audit events: nativesock (left), CPython (right)"
    );
}

/// `getaddrinfo`, `gethostbyname(_ex)`, `gethostbyaddr`, `getnameinfo`,
/// `getservbyname`/`getservbyport` and `gethostname` print what CPython
/// prints, and raise their audit events.
#[test]
fn netdb_differential() {
    let mut ctx = loopback();
    ctx.allow_name_lookup(true);
    differential(NETDB_DIFFERENTIAL, "netdb_differential", &[], &mut ctx);
}

/// Without the name lookup grant, a host name is refused
/// (`PermissionError`), numeric hosts still work.
#[test]
fn netdb_without_name_lookup() {
    let output = run(&component(NETDB_DIFFERENTIAL), &[], &mut loopback());
    output.assert_success();
    let line = |label: &str| {
        output
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(label)?.strip_prefix(" -> "))
            .unwrap_or_else(|| panic!("no {label} in:\n{}", output.stdout))
            .to_string()
    };
    let denied = "PermissionError: [Errno 13] Permission denied";
    assert_eq!(line("gethostbyname('localhost')"), denied);
    assert_eq!(line("gethostbyaddr('127.0.0.1')"), denied);
    assert_eq!(line("getnameinfo(('127.0.0.1', 80), 0)"), denied);
    assert_eq!(line("gethostbyname(b'127.0.0.1')"), "'127.0.0.1'");
    assert_eq!(
        line("getaddrinfo('127.0.0.1', 'http', 0, SOCK_STREAM)"),
        "[(2, 1, 6, '', ('127.0.0.1', 80))]"
    );
}

/// `create_connection` (timeouts, source address, the last error or an
/// `ExceptionGroup` of all of them) and `create_server` (options, the
/// reworded bind error) behave as `Lib/socket.py` 3.11's.
#[test]
fn create_helpers_differential() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let refusing = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::STREAM,
        None,
    )
    .unwrap();
    rustix::net::bind(
        &refusing,
        &"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
    )
    .unwrap();
    let p = listener.local_addr().unwrap().port().to_string();
    let q = match rustix::net::getsockname(&refusing).unwrap().try_into() {
        Ok(std::net::SocketAddr::V4(a)) => a.port().to_string(),
        other => panic!("{other:?}"),
    };
    let mut ctx = loopback();
    ctx.allow_name_lookup(true)
        .allow_connect("::1".parse().unwrap())
        .allow_bind("::1".parse().unwrap());
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    ctx.audit_hook(move |event| {
        seen.lock().unwrap().push(event.clone());
        Ok(())
    });
    differential(
        CREATE_HELPERS_DIFFERENTIAL,
        "create_helpers_differential",
        &[&p, &q],
        &mut ctx,
    );
    // `create_connection` raises `socket.getaddrinfo`, then `socket.__new__`
    // with getaddrinfo's proto, then `socket.connect` with its sockaddr.
    let events = events.lock().unwrap();
    let names: Vec<&str> = events[..3].iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["socket.getaddrinfo", "socket.__new__", "socket.connect"]
    );
    let int = |i: i64| AuditArg::Scalar(AuditScalar::Int(i));
    assert_eq!(
        events[0].args,
        [
            AuditArg::Scalar(AuditScalar::Str("127.0.0.1".into())),
            int(p.parse().unwrap()),
            int(0),
            int(libc::SOCK_STREAM.into()),
            int(0)
        ]
    );
    assert_eq!(
        events[1].args[1..],
        [
            int(libc::AF_INET.into()),
            int(libc::SOCK_STREAM.into()),
            int(6)
        ]
    );
    assert_eq!(events[2].args[1], address("127.0.0.1", p.parse().unwrap()));
}

/// `recv_into`, `recvfrom_into` and `recvmsg_into` through a binding-side
/// buffer give what CPython gives, in every timeout mode.
#[test]
fn recv_into_differential() {
    let mut ctx = loopback();
    ctx.allow_sendto("127.0.0.0/8".parse().unwrap());
    differential(
        RECV_INTO_DIFFERENTIAL,
        "recv_into_differential",
        &[],
        &mut ctx,
    );
}

/// fds travel with `SCM_RIGHTS` between the store's own sockets only.
#[test]
fn scm_rights_passing() {
    run_checked(SCM_RIGHTS_PASSING, &mut loopback());
}

/// A 4096-byte cap bounds stream receives and never cuts a datagram.
#[test]
fn recv_caps() {
    let mut ctx = loopback();
    ctx.max_recv_bytes(4096)
        .allow_sendto("127.0.0.0/8".parse().unwrap());
    run_checked(RECV_CAPS, &mut ctx);
}

/// A fault injector that interrupts the `poll` calls `interrupt(n)` picks
/// (from 0) with `EINTR` as a signal would, and a signal check that runs
/// the "handler" only when such a signal is pending: it returns, or raises
/// `raises`. Returns how many times the handler ran.
fn interrupt_polls(
    ctx: &mut nativesock::NativesockCtxBuilder,
    interrupt: fn(usize) -> bool,
    raises: Option<Raised>,
) -> Arc<AtomicUsize> {
    let pending = Arc::new(AtomicUsize::new(0));
    let polls = AtomicUsize::new(0);
    let arrived = pending.clone();
    ctx.fault_injector(move |call| {
        if call != Call::Poll {
            return None;
        }
        let n = polls.fetch_add(1, Ordering::SeqCst);
        interrupt(n).then(|| {
            arrived.fetch_add(1, Ordering::SeqCst);
            libc::EINTR
        })
    });
    let handled = Arc::new(AtomicUsize::new(0));
    let count = handled.clone();
    ctx.signal_check(move || {
        if pending.swap(0, Ordering::SeqCst) == 0 {
            return Ok(());
        }
        count.fetch_add(1, Ordering::SeqCst);
        raises.clone().map_or(Ok(()), Err)
    });
    handled
}

/// `sendall` on a full buffer keeps one deadline across partial sends and
/// `EINTR`s whose handler returns.
#[test]
fn sendall_interrupted() {
    let mut ctx = loopback();
    let handled = interrupt_polls(&mut ctx, |n| n % 2 == 1, None);
    let output = run(&component(SENDALL_INTERRUPTED), &["returns"], &mut ctx);
    output.assert_success();
    assert!(handled.load(Ordering::SeqCst) >= 1);

    // A handler that raises ends `sendall` after the first partial send.
    let mut ctx = loopback();
    let division = Raised::new("ZeroDivisionError", "division by zero");
    let handled = interrupt_polls(&mut ctx, |n| n == 1, Some(division));
    let output = run(&component(SENDALL_INTERRUPTED), &["raises"], &mut ctx);
    output.assert_success();
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}

/// A loopback echo server for `wasi_sockets_policy`'s connects: echoes one
/// byte on each connection, on a thread that ends within a minute.
fn echo_server() -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let (listener, port) = local_listener();
    let server = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    let mut byte = [0];
                    if stream.read_exact(&mut byte).is_ok() {
                        let _ = stream.write_all(&byte);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    });
    (port, server)
}

/// The program's line for each operation, in order.
fn wasi_results(output: &Output) -> Vec<String> {
    output.assert_success();
    output.stdout.lines().map(str::to_owned).collect()
}

#[test]
fn wasi_sockets_policy() {
    let (port, _server) = echo_server();
    // A port nothing is granted on, served too, so that a connect the
    // policy let through would succeed.
    let (other, _other_server) = echo_server();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let program = component(WASI_SOCKETS_POLICY);
    let ops = [
        format!("connect=127.0.0.1:{port}"),
        format!("connect=127.0.0.1:{other}"),
        "listen=127.0.0.1:0".to_owned(),
        format!("udp=127.0.0.1:{udp_port}"),
        format!("lookup=localhost:{port}"),
    ];
    let args: Vec<&str> = ops.iter().map(String::as_str).collect();
    let run_with =
        |ctx: &mut nativesock::NativesockCtxBuilder| wasi_results(&run(&program, &args, ctx));

    // No grant: nothing.
    let denied = [
        format!("connect 127.0.0.1:{port}: PermissionDenied"),
        format!("connect 127.0.0.1:{other}: PermissionDenied"),
        "listen 127.0.0.1:0: PermissionDenied".to_owned(),
        format!("udp 127.0.0.1:{udp_port}: PermissionDenied"),
        // wasi-libc reports wasi's `access-denied` as `EAI_FAIL`.
        format!(
            "lookup localhost:{port}: failed to lookup address information: Non-recoverable error"
        ),
    ];
    assert_eq!(run_with(&mut nativesock::NativesockCtx::builder()), denied);

    // One connect rule: that port only; its implicit bind needs no grant.
    let mut ctx = nativesock::NativesockCtx::builder();
    ctx.allow_connect(format!("127.0.0.1:{port}").parse().unwrap());
    let mut expected = denied.clone();
    expected[0] = format!("connect 127.0.0.1:{port}: ok");
    assert_eq!(run_with(&mut ctx), expected);

    // Bind and sendto rules; the datagram arrives.
    let mut ctx = nativesock::NativesockCtx::builder();
    ctx.allow_bind("127.0.0.1".parse().unwrap())
        .allow_sendto(format!("127.0.0.1:{udp_port}").parse().unwrap())
        .allow_name_lookup(true);
    let mut expected = denied.clone();
    expected[2] = "listen 127.0.0.1:0: ok".to_owned();
    expected[3] = format!("udp 127.0.0.1:{udp_port}: ok");
    expected[4] = format!("lookup localhost:{port}: ok");
    assert_eq!(run_with(&mut ctx), expected);
    let mut datagram = [0; 8];
    assert_eq!(udp.recv_from(&mut datagram).unwrap().0, 1);

    // A bind rule for the ephemeral port only does not grant a fixed one.
    let mut ctx = nativesock::NativesockCtx::builder();
    ctx.allow_bind("127.0.0.1:0".parse().unwrap());
    let fixed = local_listener().1; // free again once dropped
    let output = run(
        &program,
        &["listen=127.0.0.1:0", &format!("listen=127.0.0.1:{fixed}")],
        &mut ctx,
    );
    assert_eq!(
        wasi_results(&output),
        [
            "listen 127.0.0.1:0: ok".to_owned(),
            format!("listen 127.0.0.1:{fixed}: PermissionDenied"),
        ]
    );

    // The embedder's check, beside the rules, asked only when no rule
    // grants: here it grants the second listener's port.
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut ctx = nativesock::NativesockCtx::builder();
    let seen = asked.clone();
    ctx.allow_connect(format!("127.0.0.1:{port}").parse().unwrap())
        .address_check(move |address, use_| {
            seen.lock().unwrap().push((address, use_));
            use_ == nativesock::AddressUse::Connect && address.port() == other
        });
    let mut expected = denied.clone();
    expected[0] = format!("connect 127.0.0.1:{port}: ok");
    expected[1] = format!("connect 127.0.0.1:{other}: ok");
    assert_eq!(run_with(&mut ctx), expected);
    // What no rule granted, in order: a UDP send is a send or a connect.
    use nativesock::AddressUse::{Bind, Connect, Sendto};
    let asked: Vec<(String, nativesock::AddressUse)> = asked
        .lock()
        .unwrap()
        .iter()
        .map(|(a, u)| (a.to_string(), *u))
        .collect();
    let at = |port: u16| format!("127.0.0.1:{port}");
    assert_eq!(
        asked,
        [
            (at(other), Connect),
            (at(0), Bind),
            (at(udp_port), Sendto),
            (at(udp_port), Connect),
        ]
    );

    // Everything.
    let mut ctx = nativesock::NativesockCtx::builder();
    ctx.inherit_network();
    let ok: Vec<String> = ops
        .iter()
        .map(|op| format!("{}: ok", op.replacen('=', " ", 1)))
        .collect();
    assert_eq!(run_with(&mut ctx), ok);
    assert_eq!(udp.recv_from(&mut datagram).unwrap().0, 1);
}
