//! The `nativesock` command line: clap definitions and what each command
//! does. `main.rs` only calls [`main`].
//!
//! Every network flag maps to one [`NativesockCtxBuilder`] call, and governs
//! `wasi:sockets` too ([`NativesockCtxBuilder::configure_wasi_sockets`]);
//! the WASI flags use wasmtime's spellings (`--dir HOST::GUEST`, `--env
//! NAME=VAL`, `-S inherit-network`).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use wasmtime::component::Component;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use nativesock::activation::HandedIn;
use nativesock::run::AppState;
use nativesock::{
    AddressRule, AuditArg, AuditEvent, AuditScalar, NativesockCtx, NativesockCtxBuilder, Raised,
};

use crate::signals;

/// Native sockets with CPython's semantics for WebAssembly components.
///
/// Runs a WebAssembly command component that imports
/// `nativesock:socket/socket` (CPython's socket object), composed with the
/// embedded semantics component, on the host's real sockets. Network access
/// is denied unless a flag grants it.
#[derive(Parser, Debug)]
#[command(name = "nativesock", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A `nativesock` subcommand.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an application component (or, without one, the embedded demo).
    Run(RunCommand),
    /// Run the embedded demo: a tour of the socket object on loopback.
    Demo(DemoCommand),
    /// Compose an application component with the embedded semantics
    /// component and write the result, which any host that implements
    /// `nativesock:socket/native` (as `nativesock run`) runs as it is.
    Compose(ComposeCommand),
    /// Write the WIT package (`nativesock:socket` and the WASI packages it
    /// depends on) to build applications against, as componentize-py,
    /// componentize-js and wit-bindgen read it.
    Wit(WitCommand),
}

/// `nativesock compose APP.wasm -o OUT.wasm`
#[derive(Args, Debug)]
pub struct ComposeCommand {
    /// The application component: it imports `nativesock:socket/socket@0.1.0`.
    #[arg(value_name = "APP.wasm")]
    pub app: PathBuf,

    /// Where to write the composed component.
    #[arg(short = 'o', long = "output", value_name = "OUT.wasm")]
    pub output: PathBuf,
}

/// `nativesock wit DIR`
#[derive(Args, Debug)]
pub struct WitCommand {
    /// The directory to write the package into (created if missing): its
    /// `.wit` files, and the WASI packages under `deps/`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// `nativesock run [OPTIONS] [APP.wasm] [ARGS]...`
#[derive(Args, Debug)]
pub struct RunCommand {
    /// Sandbox options.
    #[command(flatten)]
    pub options: RunOptions,

    /// The application component and its arguments. Options after APP.wasm
    /// are the application's. Without APP.wasm, the embedded demo runs,
    /// allowed loopback only (unless network flags say otherwise).
    #[arg(value_name = "APP.wasm [ARGS]", trailing_var_arg = true)]
    pub app_and_args: Vec<OsString>,
}

/// `nativesock demo [OPTIONS] [-- ARGS...]`
#[derive(Args, Debug)]
pub struct DemoCommand {
    /// Sandbox options.
    #[command(flatten)]
    pub options: RunOptions,

    /// Arguments for the demo.
    #[arg(value_name = "ARGS", last = true)]
    pub args: Vec<OsString>,
}

/// What the guest may do. Network flags map 1:1 to
/// [`NativesockCtxBuilder`] calls; none are given by default, so the
/// guest has no network.
#[derive(Args, Debug, Clone, Default)]
pub struct RunOptions {
    /// Socket options, `KEY[=y|n]`, comma-separated or repeated:
    /// `inherit-network` allows all network access (every address, port,
    /// unix path, name lookup, and raw/packet/netlink sockets);
    /// `allow-ip-name-lookup` is `--allow-name-lookup`.
    #[arg(short = 'S', value_name = "KEY[=VAL]", value_delimiter = ',', value_parser = parse_socket_option)]
    pub socket: Vec<SocketOption>,

    /// Allow `connect` to addresses and ports matching RULE: `127.0.0.1`,
    /// `127.0.0.0/8`, `127.0.0.0/8:8000-9000`, `[::1]:80`, `::1/128`,
    /// `[::]/0:1-1024`, or `*` for everything. No port part means every port.
    #[arg(long, value_name = "RULE")]
    pub allow_connect: Vec<AddressRule>,

    /// Allow `bind` to addresses and ports matching RULE (same syntax). Port
    /// 0 (an ephemeral port) needs a rule that covers port 0, as a rule
    /// without a port part does.
    #[arg(long, value_name = "RULE")]
    pub allow_bind: Vec<AddressRule>,

    /// Allow a datagram socket's `sendto` to addresses and ports matching
    /// RULE (same syntax).
    #[arg(long, value_name = "RULE")]
    pub allow_sendto: Vec<AddressRule>,

    /// Allow unix socket paths inside DIR (checked on the resolved path, so
    /// `..` and symlinks cannot escape). Relative guest paths are relative
    /// to nativesock's current directory.
    #[arg(long = "allow-unix", value_name = "DIR")]
    pub allow_unix: Vec<PathBuf>,

    /// Allow Linux abstract unix socket names (shared by every process on
    /// the host), including autobind.
    #[arg(long)]
    pub allow_abstract_unix: bool,

    /// Allow name lookups (DNS, `/etc/hosts`): `getaddrinfo` on names and
    /// `getnameinfo` without `NI_NUMERICHOST`. Numeric addresses never need it.
    #[arg(long)]
    pub allow_name_lookup: bool,

    /// Write every audit event as one JSON line to PATH (appending), or to
    /// stderr for `-`: the guest's (`socket.connect`...) and the host's own
    /// `nativesock.denied` (a call the policy refused) and `nativesock.limit`
    /// (a call a limit refused or ended).
    #[arg(long, value_name = "PATH|-")]
    pub audit_log: Option<PathBuf>,

    /// The most bytes the audit log takes from one run (default 64 MiB):
    /// past it one last `nativesock.limit` line `["audit-log-bytes", N]`
    /// is written, and no more.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_AUDIT_LOG_BYTES)]
    pub audit_log_max_bytes: u64,

    /// Allow `setsockopt` of an option beyond the default list (see
    /// SECURITY.md), as numbers: `LEVEL:NAME`, `1:36` for `SO_MARK`.
    #[arg(long, value_name = "LEVEL:NAME", value_parser = parse_sockopt)]
    pub allow_sockopt: Vec<(i32, i32)>,

    /// Cap on the bytes one `recv` on a stream socket returns (default 1 MiB);
    /// a datagram is sized from the datagram, never cut by the cap.
    #[arg(long, value_name = "BYTES")]
    pub max_recv_bytes: Option<u32>,

    /// Cap on the bytes one `send`/`sendto` hands the kernel (default 1
    /// MiB): a stream send past it is a short write (`sendall` goes on), a
    /// longer datagram fails with `EMSGSIZE`.
    #[arg(long, value_name = "BYTES")]
    pub max_send_bytes: Option<u32>,

    /// Cap on the sockets the guest holds open at once (default 1024);
    /// past it, creating, accepting or duplicating one fails with `EMFILE`.
    #[arg(long, value_name = "N")]
    pub max_open_sockets: Option<u32>,

    /// Cap on the time one socket call may block, in milliseconds (default:
    /// none, calls block as they would natively); past it the call fails
    /// with `ETIMEDOUT` (`TimeoutError` in the guest).
    #[arg(long, value_name = "MS")]
    pub max_blocking_ms: Option<u64>,

    /// Bind a TCP listener on ADDR (`127.0.0.1:8080`, `[::1]:0`) and hand
    /// it to the guest, as wasmtime's `--tcplisten`: it is the guest's fd 3
    /// (then 4, ...), after any sockets systemd passed (`LISTEN_FDS`), and
    /// the guest's `LISTEN_FDS` and `LISTEN_FDNAMES` (`listen`) count it.
    /// The guest needs no bind grant to accept on it.
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<std::net::SocketAddr>,

    /// Set an environment variable for the guest: `NAME=VAL`, or `NAME` to
    /// pass nativesock's own value (if it has one).
    #[arg(long = "env", value_name = "NAME[=VAL]", value_parser = parse_env)]
    pub env: Vec<(String, Option<String>)>,

    /// Give the guest a host directory (read-write), under GUEST_DIR or,
    /// by default, under the same name.
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]", value_parser = parse_dir)]
    pub dirs: Vec<(PathBuf, String)>,
}

/// One `-S` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketOption {
    /// `-S inherit-network[=y|n]`: [`NativesockCtxBuilder::inherit_network`].
    InheritNetwork(bool),
    /// `-S allow-ip-name-lookup[=y|n]`: [`NativesockCtxBuilder::allow_name_lookup`].
    AllowIpNameLookup(bool),
}

fn parse_socket_option(s: &str) -> Result<SocketOption, String> {
    let (key, value) = match s.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (s, None),
    };
    let value = match value {
        None | Some("y" | "yes" | "true") => true,
        Some("n" | "no" | "false") => false,
        Some(v) => return Err(format!("`{v}` is not a boolean: use `y` or `n`")),
    };
    match key {
        "inherit-network" => Ok(SocketOption::InheritNetwork(value)),
        "allow-ip-name-lookup" => Ok(SocketOption::AllowIpNameLookup(value)),
        _ => Err(format!(
            "unknown socket option `{key}`: expected `inherit-network` or `allow-ip-name-lookup`"
        )),
    }
}

fn parse_sockopt(s: &str) -> Result<(i32, i32), String> {
    let number = |part: &str| {
        part.parse::<i32>()
            .map_err(|_| format!("`{part}` is not a number (expected `LEVEL:NAME`, as `1:36`)"))
    };
    let (level, name) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not `LEVEL:NAME` (as `1:36`)"))?;
    Ok((number(level)?, number(name)?))
}

fn parse_env(s: &str) -> Result<(String, Option<String>), String> {
    let (name, value) = match s.split_once('=') {
        Some((n, v)) => (n, Some(v.to_owned())),
        None => (s, None),
    };
    if name.is_empty() {
        return Err("the variable name is empty".into());
    }
    Ok((name.to_owned(), value))
}

fn parse_dir(s: &str) -> Result<(PathBuf, String), String> {
    let (host, guest) = match s.split_once("::") {
        Some((h, g)) => (h, g),
        None => (s, s),
    };
    if host.is_empty() || guest.is_empty() {
        return Err("expected `HOST_DIR` or `HOST_DIR::GUEST_DIR`".into());
    }
    Ok((PathBuf::from(host), guest.to_owned()))
}

impl RunOptions {
    /// Whether any flag grants network access (so the demo's default
    /// loopback grant steps aside).
    pub fn grants_network(&self) -> bool {
        self.socket.iter().any(|o| match o {
            SocketOption::InheritNetwork(on) | SocketOption::AllowIpNameLookup(on) => *on,
        }) || !self.allow_connect.is_empty()
            || !self.allow_bind.is_empty()
            || !self.allow_sendto.is_empty()
            || !self.allow_unix.is_empty()
            || self.allow_abstract_unix
            || self.allow_name_lookup
    }

    /// Applies the network flags to `builder`, one call per flag.
    pub fn apply(&self, builder: &mut NativesockCtxBuilder) {
        for option in &self.socket {
            match *option {
                SocketOption::InheritNetwork(true) => {
                    builder.inherit_network();
                }
                SocketOption::InheritNetwork(false) => {}
                SocketOption::AllowIpNameLookup(on) => {
                    builder.allow_name_lookup(on);
                }
            }
        }
        for rule in &self.allow_connect {
            builder.allow_connect(rule.clone());
        }
        for rule in &self.allow_bind {
            builder.allow_bind(rule.clone());
        }
        for rule in &self.allow_sendto {
            builder.allow_sendto(rule.clone());
        }
        for dir in &self.allow_unix {
            builder.allow_unix_dir(dir);
        }
        if self.allow_abstract_unix {
            builder.allow_abstract_unix(true);
        }
        if self.allow_name_lookup {
            builder.allow_name_lookup(true);
        }
        for &(level, name) in &self.allow_sockopt {
            builder.allow_sockopt(level, name);
        }
        if let Some(n) = self.max_recv_bytes {
            builder.max_recv_bytes(n);
        }
        if let Some(n) = self.max_send_bytes {
            builder.max_send_bytes(n);
        }
        if let Some(n) = self.max_open_sockets {
            builder.max_open_sockets(n);
        }
        if let Some(ms) = self.max_blocking_ms {
            builder.max_blocking_time(Some(std::time::Duration::from_millis(ms)));
        }
    }

    /// The WASI context's builder: inherited stdio, `args`, the `--env` variables and
    /// the `--dir` preopens; host clocks and random; and `wasi:sockets`
    /// with the grants of `nativesock`, the run's nativesock builder
    /// ([`NativesockCtxBuilder::configure_wasi_sockets`]), so that one set
    /// of flags governs both socket APIs.
    pub fn wasi_builder(
        &self,
        args: &[String],
        nativesock: &NativesockCtxBuilder,
    ) -> anyhow::Result<WasiCtxBuilder> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdio().args(args);
        nativesock.configure_wasi_sockets(&mut wasi);
        for (name, value) in &self.env {
            match value {
                Some(value) => {
                    wasi.env(name, value);
                }
                None => {
                    if let Ok(value) = std::env::var(name) {
                        wasi.env(name, value);
                    }
                }
            }
        }
        for (host, guest) in &self.dirs {
            wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("failed to open directory `{}`", host.display()))?;
        }
        Ok(wasi)
    }

    /// The sockets handed to the guest: systemd's (`LISTEN_FDS`), then one
    /// listener per `--listen`. Call it before any thread runs (systemd's
    /// protocol edits the environment) and before other files are opened,
    /// so that the sockets get consecutive fds from 3.
    pub fn handed_in(&self) -> anyhow::Result<HandedIn> {
        let mut handed = HandedIn::from_systemd()?;
        for &address in &self.listen {
            handed.listen(address)?;
        }
        Ok(handed)
    }
}

/// The demo's grant when no network flag is given: loopback only.
pub const DEMO_LOOPBACK: [&str; 2] = ["127.0.0.0/8", "::1"];

/// The builder for a run's nativesock context: the flags, or loopback for
/// the demo without network flags; the audit log; Ctrl-C as
/// `KeyboardInterrupt`.
pub fn nativesock_builder(
    options: &RunOptions,
    demo: bool,
) -> anyhow::Result<NativesockCtxBuilder> {
    let mut builder = NativesockCtx::builder();
    if demo && !options.grants_network() {
        for rule in DEMO_LOOPBACK {
            let rule: AddressRule = rule.parse()?;
            builder
                .allow_connect(rule.clone())
                .allow_bind(rule.clone())
                .allow_sendto(rule);
        }
    }
    options.apply(&mut builder);
    if let Some(log) = open_audit_log(options)? {
        let log = Arc::new(Mutex::new(log));
        builder.audit_hook(move |event| {
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = log.write(event) {
                tracing::warn!("failed to write the audit log: {e}");
            }
            Ok(())
        });
    }
    builder.signal_check(|| {
        if signals::take_pending() {
            Err(Raised::keyboard_interrupt())
        } else {
            Ok(())
        }
    });
    Ok(builder)
}

/// The `--audit-log`, opened for appending, if one is asked for.
fn open_audit_log(options: &RunOptions) -> anyhow::Result<Option<AuditLog>> {
    let Some(path) = &options.audit_log else {
        return Ok(None);
    };
    let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stderr())
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("failed to open audit log `{}`", path.display()))?;
        Box::new(file)
    };
    Ok(Some(AuditLog {
        out,
        room: options.audit_log_max_bytes,
        max: options.audit_log_max_bytes,
    }))
}

/// The default of `--audit-log-max-bytes`: 64 MiB.
pub const DEFAULT_AUDIT_LOG_BYTES: u64 = 64 << 20;

/// The audit log of a run: JSON lines, at most `room` more bytes.
struct AuditLog {
    out: Box<dyn Write + Send>,
    room: u64,
    max: u64,
}

impl AuditLog {
    /// Writes `event` as a line if it fits; the first that does not is
    /// replaced by a last `nativesock.limit` line, and the log stops, so
    /// that no guest can fill the disk through it.
    fn write(&mut self, event: &AuditEvent) -> std::io::Result<()> {
        if self.room == 0 {
            return Ok(());
        }
        let line = format!("{}\n", event.to_json());
        let len = u64::try_from(line.len()).unwrap_or(u64::MAX);
        if len < self.room {
            self.room -= len;
            self.out.write_all(line.as_bytes())?;
        } else {
            self.room = 0;
            let full = AuditEvent {
                name: nativesock::LIMIT_EVENT.to_owned(),
                args: vec![
                    AuditArg::Scalar(AuditScalar::Str("audit-log-bytes".into())),
                    AuditArg::Scalar(AuditScalar::Int(
                        i64::try_from(self.max).unwrap_or(i64::MAX),
                    )),
                ],
            };
            writeln!(self.out, "{}", full.to_json())?;
        }
        self.out.flush()
    }
}

/// The CLI: parses the command line, runs it, and returns the process's
/// exit status (the component's exit code, 1 for an error, 2 for a usage
/// error, 130 after Ctrl-C).
pub fn main() -> i32 {
    // First, before any thread exists, so that every thread inherits it.
    if let Err(e) = signals::block_sigint() {
        eprintln!("error: failed to block `SIGINT`: {e}");
        return 1;
    }
    init_tracing();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    if let Err(e) = signals::install_handler() {
        eprintln!("error: failed to install the `SIGINT` handler: {e}");
        return 1;
    }
    let result = execute(cli);
    let interrupted = signals::received();
    match result {
        Ok(0) => 0,
        Ok(_) if interrupted => signals::EXIT_INTERRUPTED,
        Ok(code) => code,
        Err(e) => {
            tracing::debug!("{e:?}");
            eprintln!("error: {}", one_line(&e));
            if interrupted {
                signals::EXIT_INTERRUPTED
            } else {
                1
            }
        }
    }
}

/// Logs to stderr as `RUST_LOG` says; nothing without it.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// An error and its causes on one line: `context: cause: root cause`.
/// wasm backtraces and other multi-line details are left out (they are
/// logged at debug level).
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        // wasmtime's wasm backtrace context; the trap itself follows.
        if text.starts_with("error while executing at wasm backtrace") {
            continue;
        }
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches(':');
        if first.is_empty() || parts.last().is_some_and(|p| p.ends_with(first)) {
            continue;
        }
        parts.push(first.to_owned());
    }
    parts.join(": ")
}

/// Runs a parsed command line: Ok(the component's exit code). [`main`]
/// blocks `SIGINT` and installs its handler first; without that, Ctrl-C
/// simply kills the process.
pub fn execute(cli: Cli) -> anyhow::Result<i32> {
    let (options, app, args) = match cli.command {
        Command::Compose(compose) => return compose_command(&compose).map(|()| 0),
        Command::Wit(wit) => return Ok(nativesock::wit::write_package(&wit.dir).map(|()| 0)?),
        Command::Run(run) => {
            let mut rest = run.app_and_args.into_iter();
            let app = rest.next().map(PathBuf::from);
            (run.options, app, rest.collect::<Vec<_>>())
        }
        Command::Demo(demo) => (demo.options, None, demo.args),
    };
    // First: the sockets take fds 3, 4, ... before anything else opens one.
    let handed = options.handed_in()?;
    let (name, bytes) = match &app {
        Some(path) => {
            let name = path.display().to_string();
            let bytes = std::fs::read(path).with_context(|| format!("failed to read `{name}`"))?;
            (name, bytes)
        }
        None => ("demo".to_owned(), nativesock::artifacts::DEMO.to_vec()),
    };
    let mut argv = vec![name.clone()];
    for arg in args {
        match arg.into_string() {
            Ok(arg) => argv.push(arg),
            Err(arg) => bail!("argument {arg:?} is not valid UTF-8"),
        }
    }

    let composed = nativesock::compose::compose_with_semantics(&bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("failed to load `{name}`"))?;
    let engine = nativesock::run::engine()?;
    let component = Component::new(&engine, &composed)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("failed to compile `{name}`"))?;
    let linker = nativesock::run::linker(&engine)?;
    let mut nativesock = nativesock_builder(&options, app.is_none())?;
    let mut wasi = options.wasi_builder(&argv, &nativesock)?;
    handed.grant(&mut nativesock, &mut wasi);
    let state = AppState::new(wasi.build(), nativesock.build());

    let guest = signals::GuestThread::enter().context("failed to unblock `SIGINT`")?;
    if signals::received() {
        // Ctrl-C while compiling: do not start.
        return Ok(signals::EXIT_INTERRUPTED);
    }
    let result = nativesock::run::run_command(&engine, &linker, &component, state)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("failed to run `{name}`"));
    drop(guest);
    result
}

/// `nativesock compose`: an application that does not import the socket
/// interface is an error here (`run` simply runs it).
fn compose_command(compose: &ComposeCommand) -> anyhow::Result<()> {
    let name = compose.app.display().to_string();
    let bytes = std::fs::read(&compose.app).with_context(|| format!("failed to read `{name}`"))?;
    // One parse: `run` reports the same errors as `failed to load`.
    let Some(composed) = nativesock::compose::compose_if_needed(&bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("failed to load `{name}`"))?
    else {
        bail!(
            "`{name}` does not import `{}`: there is nothing to compose",
            nativesock::compose::SOCKET
        );
    };
    std::fs::write(&compose.output, composed)
        .with_context(|| format!("failed to write `{}`", compose.output.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use nativesock::AddressUse;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("nativesock").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn run_options(args: &[&str]) -> (RunOptions, Vec<OsString>) {
        match parse(args).command {
            Command::Run(r) => (r.options, r.app_and_args),
            _ => panic!("not `run`"),
        }
    }

    fn v4(ip: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::from(ip), port))
    }

    #[test]
    fn app_and_args_take_everything_after_the_app() {
        let (options, rest) = run_options(&[
            "run",
            "--allow-name-lookup",
            "app.wasm",
            "--allow-bind",
            "x",
            "-S",
        ]);
        assert!(options.allow_name_lookup);
        assert!(options.allow_bind.is_empty());
        assert_eq!(rest, ["app.wasm", "--allow-bind", "x", "-S"]);
        let (_, rest) = run_options(&["run"]);
        assert!(rest.is_empty());
        match parse(&["demo", "--allow-name-lookup", "--", "a", "-b"]).command {
            Command::Demo(d) => {
                assert!(d.options.allow_name_lookup);
                assert_eq!(d.args, ["a", "-b"]);
            }
            _ => panic!("not `demo`"),
        }
    }

    #[test]
    fn network_flags_map_to_the_builder() {
        let dir = tempfile::tempdir().unwrap();
        let dir_arg = dir.path().to_str().unwrap();
        let (options, _) = run_options(&[
            "run",
            "--allow-connect",
            "127.0.0.0/8:8000-9000",
            "--allow-bind",
            "[::1]:0",
            "--allow-sendto",
            "127.0.0.1:53",
            "--allow-unix",
            dir_arg,
            "--allow-abstract-unix",
            "--allow-name-lookup",
            "--max-recv-bytes",
            "7",
            "--max-send-bytes",
            "9",
            "--max-open-sockets",
            "3",
            "--max-blocking-ms",
            "250",
        ]);
        assert!(options.grants_network());
        let ctx = nativesock_builder(&options, true).unwrap().build();
        assert!(ctx.allows(AddressUse::Connect, v4([127, 1, 1, 1], 8080)));
        assert!(!ctx.allows(AddressUse::Connect, v4([127, 1, 1, 1], 80)));
        let any6 = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 0, 0, 0));
        assert!(ctx.allows(AddressUse::Bind, any6));
        assert!(
            !ctx.allows(AddressUse::Bind, v4([127, 0, 0, 1], 0)),
            "the demo's loopback default steps aside for explicit flags"
        );
        assert!(ctx.allows(AddressUse::Sendto, v4([127, 0, 0, 1], 53)));
        let sock = dir.path().join("s");
        assert!(ctx.allows_unix(AddressUse::Bind, sock.as_os_str().as_encoded_bytes()));
        assert!(ctx.allows_unix(AddressUse::Bind, b"\0x"));
        assert!(ctx.allows_name_lookup());
        assert!(!ctx.inherits_network());
        let limits = ctx.limits();
        assert_eq!(
            (
                limits.max_recv_bytes,
                limits.max_send_bytes,
                limits.max_open_sockets,
                limits.max_blocking_time
            ),
            (7, 9, 3, Some(std::time::Duration::from_millis(250)))
        );
    }

    #[test]
    fn no_flags_deny_everything_and_the_demo_gets_loopback() {
        let (options, _) = run_options(&["run", "app.wasm"]);
        assert!(!options.grants_network());
        let ctx = nativesock_builder(&options, false).unwrap().build();
        assert!(!ctx.allows(AddressUse::Connect, v4([127, 0, 0, 1], 80)));
        assert!(!ctx.allows_name_lookup());

        let ctx = nativesock_builder(&options, true).unwrap().build();
        for op in [AddressUse::Connect, AddressUse::Bind, AddressUse::Sendto] {
            assert!(ctx.allows(op, v4([127, 0, 0, 1], 0)));
            let six = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 8080, 0, 0));
            assert!(ctx.allows(op, six));
            assert!(!ctx.allows(op, v4([10, 0, 0, 1], 80)));
        }
        assert!(!ctx.allows_name_lookup());
    }

    #[test]
    fn socket_options_use_wasmtime_spellings() {
        let (options, _) = run_options(&["run", "-S", "inherit-network"]);
        assert_eq!(options.socket, [SocketOption::InheritNetwork(true)]);
        let ctx = nativesock_builder(&options, false).unwrap().build();
        assert!(ctx.inherits_network());
        let (options, _) = run_options(&["run", "-S", "inherit-network=n,allow-ip-name-lookup"]);
        assert_eq!(
            options.socket,
            [
                SocketOption::InheritNetwork(false),
                SocketOption::AllowIpNameLookup(true)
            ]
        );
        let ctx = nativesock_builder(&options, false).unwrap().build();
        assert!(!ctx.inherits_network() && ctx.allows_name_lookup());
        let err = Cli::try_parse_from(["nativesock", "run", "-S", "tcp"]).unwrap_err();
        assert!(
            err.to_string().contains("unknown socket option `tcp`"),
            "{err}"
        );
        let err =
            Cli::try_parse_from(["nativesock", "run", "-S", "inherit-network=maybe"]).unwrap_err();
        assert!(
            err.to_string().contains("`maybe` is not a boolean"),
            "{err}"
        );
    }

    #[test]
    fn bad_rules_are_usage_errors() {
        let err =
            Cli::try_parse_from(["nativesock", "run", "--allow-connect", "localhost"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains(
                "invalid address rule `localhost`: `localhost` is not an IPv4 or IPv6 address"
            ),
            "{err}"
        );
    }

    #[test]
    fn env_and_dir_flags() {
        let (options, _) = run_options(&[
            "run",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--env",
            "HOME",
            "--dir",
            "/tmp",
            "--dir",
            "/tmp::/data",
        ]);
        assert_eq!(
            options.env,
            [
                ("A".to_owned(), Some("1".to_owned())),
                ("B".to_owned(), Some("x=y".to_owned())),
                ("HOME".to_owned(), None),
            ]
        );
        assert_eq!(
            options.dirs,
            [
                (PathBuf::from("/tmp"), "/tmp".to_owned()),
                (PathBuf::from("/tmp"), "/data".to_owned()),
            ]
        );
        let builder = NativesockCtx::builder();
        assert!(options.wasi_builder(&["app".to_owned()], &builder).is_ok());
        let (options, _) = run_options(&["run", "--dir", "/nonexistent-nativesock-dir"]);
        let Err(err) = options.wasi_builder(&[], &builder) else {
            panic!("a missing directory opened");
        };
        assert!(
            one_line(&err).starts_with("failed to open directory `/nonexistent-nativesock-dir`: "),
            "{err:#}"
        );
        assert!(Cli::try_parse_from(["nativesock", "run", "--env", "=1"]).is_err());
        assert!(Cli::try_parse_from(["nativesock", "run", "--dir", "::/x"]).is_err());
    }

    #[test]
    fn audit_log_writes_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.jsonl");
        let (options, _) = run_options(&["run", "--audit-log", log.to_str().unwrap()]);
        let mut writer = open_audit_log(&options).unwrap().unwrap();
        let event = nativesock::AuditEvent {
            name: "socket.connect".into(),
            args: vec![nativesock::AuditArg::Scalar(nativesock::AuditScalar::Int(
                1,
            ))],
        };
        writer.write(&event).unwrap();
        writer.write(&event).unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text, format!("{0}\n{0}\n", event.to_json()));
        let (options, _) = run_options(&["run", "--audit-log", "/nonexistent-nativesock-dir/log"]);
        let err = nativesock_builder(&options, false).unwrap_err();
        assert!(
            one_line(&err)
                .starts_with("failed to open audit log `/nonexistent-nativesock-dir/log`: "),
            "{err:#}"
        );
    }

    #[test]
    fn the_audit_log_stops_at_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.jsonl");
        let event = nativesock::AuditEvent {
            name: "socket.connect".into(),
            args: vec![nativesock::AuditArg::Scalar(nativesock::AuditScalar::Str(
                "x".repeat(100),
            ))],
        };
        let line = event.to_json().len() as u64 + 1;
        let budget = (3 * line + 10).to_string();
        let (options, _) = run_options(&[
            "run",
            "--audit-log",
            log.to_str().unwrap(),
            "--audit-log-max-bytes",
            &budget,
        ]);
        let mut writer = open_audit_log(&options).unwrap().unwrap();
        for _ in 0..1000 {
            writer.write(&event).unwrap();
        }
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[..3].iter().all(|l| *l == event.to_json()));
        assert_eq!(
            lines[3],
            format!(r#"{{"event":"nativesock.limit","args":["audit-log-bytes",{budget}]}}"#)
        );
    }

    #[test]
    fn allow_sockopt_takes_level_and_name() {
        let (options, _) = run_options(&["run", "--allow-sockopt", "1:36"]);
        assert_eq!(options.allow_sockopt, vec![(1, 36)]);
        let ctx = nativesock_builder(&options, false).unwrap().build();
        assert!(ctx.allows_sockopt(1, 36));
        for bad in ["1", "x:36", "1:y", "1:36:2"] {
            let err = Cli::try_parse_from(["nativesock", "run", "--allow-sockopt", bad])
                .unwrap_err()
                .to_string();
            assert!(err.contains("LEVEL:NAME"), "{bad}: {err}");
        }
    }

    #[test]
    fn one_line_joins_causes() {
        let e = anyhow::anyhow!("root\nmore detail")
            .context("middle:")
            .context("top");
        assert_eq!(one_line(&e), "top: middle: root");
    }
}
