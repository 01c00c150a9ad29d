//! Sockets handed in from outside: systemd socket activation (`LISTEN_FDS`,
//! `LISTEN_FDNAMES`) and listeners the host binds for the guest (the CLI's
//! `--listen ADDR`, as wasmtime's `--tcplisten`).
//!
//! Both follow systemd's protocol (`sd_listen_fds(3)`): the sockets are fds
//! 3, 4, ... in the order they were handed in, and the guest finds them
//! through `LISTEN_FDS` (how many) and `LISTEN_FDNAMES` (their names,
//! `:`-separated) in its environment. The guest names them by those
//! numbers, which are the host's own (nativesock's fds are the host's), so
//! a component serves on a privileged or pre-opened port without any bind
//! grant: it only accepts on a socket it was given.
//!
//! ```no_run
//! use nativesock::activation::HandedIn;
//!
//! # fn main() -> wasmtime::Result<()> {
//! // At the start of `main`, before any thread runs (it edits the
//! // environment, as `sd_listen_fds` does).
//! let mut sockets = HandedIn::from_systemd()?;
//! sockets.listen("127.0.0.1:8080".parse()?)?;
//!
//! let mut wasi = wasmtime_wasi::WasiCtx::builder();
//! let mut nativesock = nativesock::NativesockCtx::builder();
//! sockets.grant(&mut nativesock, &mut wasi);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use wasmtime::bail;
use wasmtime::error::Context as _;

use crate::NativesockCtxBuilder;

/// The first fd of systemd's protocol (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// The name `LISTEN_FDNAMES` gives a socket [`HandedIn::listen`] bound.
pub const LISTEN_NAME: &str = "listen";

/// The name of a socket systemd passed without `LISTEN_FDNAMES`, as
/// `sd_listen_fds_with_names(3)` reports it.
pub const UNKNOWN_NAME: &str = "unknown";

/// The sockets handed to a guest, in fd order from [`LISTEN_FDS_START`].
#[derive(Default)]
pub struct HandedIn {
    sockets: Vec<(OwnedFd, String)>,
}

impl fmt::Debug for HandedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.sockets.iter().map(|(fd, name)| (fd.as_raw_fd(), name)))
            .finish()
    }
}

impl HandedIn {
    /// No sockets.
    pub fn new() -> HandedIn {
        HandedIn::default()
    }

    /// Takes the sockets systemd (or `systemfd`, `systemd-socket-activate`)
    /// passed this process: `LISTEN_FDS` fds from 3, when `LISTEN_PID` is
    /// this process or unset, named by `LISTEN_FDNAMES` (`unknown` without
    /// it). It reads the protocol with the `listenfd` crate, as wasmtime
    /// does, which removes `LISTEN_PID` and `LISTEN_FDS` from the
    /// environment: call it before any other thread runs. Each fd is made
    /// close-on-exec.
    ///
    /// # Errors
    ///
    /// When an fd the protocol names is not open or is not a socket, or
    /// `LISTEN_FDNAMES` does not name as many fds as `LISTEN_FDS` counts.
    pub fn from_systemd() -> wasmtime::Result<HandedIn> {
        let names = std::env::var("LISTEN_FDNAMES").ok();
        let mut listenfd = listenfd::ListenFd::from_env();
        let count = listenfd.len();
        let names: Vec<String> = match names {
            Some(names) if count > 0 => {
                let names: Vec<String> = names.split(':').map(str::to_owned).collect();
                if names.len() != count {
                    bail!(
                        "`LISTEN_FDNAMES` names {} fds but `LISTEN_FDS` passes {count}",
                        names.len()
                    );
                }
                names
            }
            _ => vec![UNKNOWN_NAME.to_owned(); count],
        };
        let mut sockets = Vec::with_capacity(count);
        for (index, name) in names.into_iter().enumerate() {
            let fd = listenfd
                .take_raw_fd(index)
                .context("failed to take a socket from `LISTEN_FDS`")?
                .with_context(|| format!("`LISTEN_FDS` socket {index} is missing"))?;
            let fd = take_socket(fd).with_context(|| {
                format!("fd {fd} from `LISTEN_FDS` (`{name}`) cannot be handed to the guest")
            })?;
            sockets.push((fd, name));
        }
        Ok(HandedIn { sockets })
    }

    /// Binds a TCP listener on `address` (as `std::net::TcpListener::bind`:
    /// `SO_REUSEADDR`, the default backlog) and adds it under the next fd
    /// number, named [`LISTEN_NAME`]. Returns that fd. Port 0 asks for an
    /// ephemeral port; the guest learns it with `getsockname`.
    ///
    /// # Errors
    ///
    /// When the bind or listen fails, or the next fd number is taken by
    /// another file (the sockets must be consecutive from 3).
    pub fn listen(&mut self, address: SocketAddr) -> wasmtime::Result<RawFd> {
        let listener = TcpListener::bind(address)
            .with_context(|| format!("failed to listen on `{address}`"))?;
        let fd = self.add(OwnedFd::from(listener), LISTEN_NAME)?;
        Ok(fd)
    }

    /// Adds `socket` under the next fd number (moving it there if it is
    /// elsewhere), named `name`; returns that fd.
    ///
    /// # Errors
    ///
    /// When `socket` is not a socket, the next fd number is taken by
    /// another file, or `name` has a `:` (the protocol's separator).
    pub fn add(&mut self, socket: OwnedFd, name: &str) -> wasmtime::Result<RawFd> {
        if name.contains(':') {
            bail!("a `LISTEN_FDNAMES` name cannot contain `:`: `{name}`");
        }
        check_socket(socket.as_fd())?;
        let next = self.next_fd();
        let socket = if socket.as_raw_fd() == next {
            socket
        } else {
            let moved = rustix::io::fcntl_dupfd_cloexec(&socket, next)
                .context("failed to move the socket to its fd number")?;
            if moved.as_raw_fd() != next {
                bail!(
                    "fd {next} is taken by another file, so the socket cannot be handed in as fd {next}"
                );
            }
            moved
        };
        self.sockets.push((socket, name.to_owned()));
        Ok(next)
    }

    /// How many sockets there are.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The fd the next socket gets.
    fn next_fd(&self) -> RawFd {
        let count = RawFd::try_from(self.sockets.len()).unwrap_or(RawFd::MAX);
        LISTEN_FDS_START.saturating_add(count)
    }

    /// The guest's `LISTEN_FDS` and `LISTEN_FDNAMES`, when there are sockets.
    pub fn env(&self) -> Vec<(String, String)> {
        if self.sockets.is_empty() {
            return Vec::new();
        }
        let names: Vec<&str> = self.sockets.iter().map(|(_, n)| n.as_str()).collect();
        vec![
            ("LISTEN_FDS".to_owned(), self.sockets.len().to_string()),
            ("LISTEN_FDNAMES".to_owned(), names.join(":")),
        ]
    }

    /// Grants every socket to the store `nativesock` builds (under its fd
    /// number) and sets [`env`](HandedIn::env) in the guest's environment.
    /// `LISTEN_PID` is not set: a guest has no process id of its own.
    pub fn grant(
        self,
        nativesock: &mut NativesockCtxBuilder,
        wasi: &mut wasmtime_wasi::WasiCtxBuilder,
    ) {
        for (name, value) in self.env() {
            wasi.env(name, value);
        }
        for (fd, _) in self.sockets {
            nativesock.grant_fd(fd);
        }
    }
}

/// Takes ownership of `fd`, which the protocol hands this process, if it is
/// an open socket, and makes it close-on-exec (as `sd_listen_fds` does).
fn take_socket(fd: RawFd) -> wasmtime::Result<OwnedFd> {
    // SAFETY: `fcntl(F_GETFD)` only asks whether the number is open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        bail!("fd {fd} is not open");
    }
    // SAFETY: the number is open (checked above) and stays so while borrowed.
    check_socket(unsafe { BorrowedFd::borrow_raw(fd) })?;
    // SAFETY: an open socket the protocol gives this process to own; nothing
    // else in the process owns the protocol's fds.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC).context("FD_CLOEXEC")?;
    Ok(owned)
}

/// `Ok` if `fd` is a socket.
fn check_socket(fd: BorrowedFd<'_>) -> wasmtime::Result<()> {
    let stat = rustix::fs::fstat(fd).context("fstat")?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Socket {
        bail!("fd {} is not a socket", fd.as_raw_fd());
    }
    Ok(())
}
