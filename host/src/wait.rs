//! How a host call that can wait does so.
//!
//! Every such call (`connect`, `accept`, the sends and receives, `poll`)
//! is written once, in `ctx/`, as an `async fn` that takes a [`Mode`]:
//!
//! * [`Mode::Blocking`], for [`add_to_linker`](crate::add_to_linker): the
//!   system call is made as the guest asked and blocks the calling thread,
//!   exactly as it would natively; `cancel.rs` wakes it. Its futures are
//!   ready when first polled, and [`now`] runs them.
//! * [`Mode::Awaiting`], for
//!   [`add_to_linker_async`](crate::add_to_linker_async):
//!   the system call is made so that it cannot block (`MSG_DONTWAIT`, or
//!   `O_NONBLOCK` for the length of one `connect` or `accept`); when it
//!   would have blocked and the guest's socket is blocking, the call
//!   awaits the socket's readiness on the host's tokio runtime and tries
//!   again. The socket's `O_NONBLOCK` stays what the guest set (it lives
//!   in the kernel's open file, so `dup`'d fds share it, as natively), and
//!   what the guest sees is what a blocking call returns: `SO_RCVTIMEO` and
//!   `SO_SNDTIMEO` end the wait as they end a blocking call (`EAGAIN`, or
//!   `EINPROGRESS` for `connect`), the store's blocking cap ends it with
//!   `ETIMEDOUT`, a [`CancelHandle`](crate::CancelHandle) with `EINTR`.
//!   Dropping the future drops the wait's registration with the runtime
//!   and nothing else: the fds stay the store's, and a `connect` goes on in
//!   the kernel, as one interrupted by a signal does.

use std::future::Future;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::pin;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::time::Instant;

use crate::ctx::NativesockCtx;
use crate::sys::{self, Errno};

/// What a call that can wait waits for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wait {
    /// Writability (sends, `connect`) rather than readability.
    pub(crate) write: bool,
    /// The guest asked this call not to wait (`MSG_DONTWAIT`).
    pub(crate) dontwait: bool,
    /// A `connect`: it is pending with `EINPROGRESS`, and `EALREADY` while
    /// the next tries find it still in progress.
    pub(crate) connect: bool,
}

impl Wait {
    pub(crate) const READ: Wait = Wait {
        write: false,
        dontwait: false,
        connect: false,
    };
    pub(crate) const WRITE: Wait = Wait {
        write: true,
        ..Wait::READ
    };
    pub(crate) const CONNECT: Wait = Wait {
        connect: true,
        ..Wait::WRITE
    };

    /// This wait for a call with the guest's `flags`.
    pub(crate) fn flags(self, flags: i32) -> Wait {
        Wait {
            dontwait: flags & libc::MSG_DONTWAIT != 0,
            ..self
        }
    }
}

/// How a store's calls wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The system call is made as the guest asked and blocks the calling
    /// thread, as natively; `cancel.rs` wakes it. The futures of calls in
    /// this mode are ready when first polled, and [`now`] runs them.
    Blocking,
    /// The call awaits readiness on the host's tokio runtime.
    Awaiting,
}

/// Runs a [`Mode::Blocking`] call's future, which is ready when first polled.
pub(crate) fn now<T: Failed>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        // Unreachable: a blocking call never awaits. Should it, the guest
        // gets an error (`EIO`), not a hang.
        Poll::Pending => T::io_error(),
    }
}

/// A call's result that can say `EIO` (for [`now`]).
pub(crate) trait Failed {
    /// The call failed with `EIO`.
    fn io_error() -> Self;
}

impl<R> Failed for Result<R, Errno> {
    fn io_error() -> Self {
        Err(libc::EIO)
    }
}

impl<R> Failed for Result<R, sys::LookupError> {
    fn io_error() -> Self {
        Err(sys::LookupError::system(libc::EIO))
    }
}

/// An fd registered with the runtime for one wait; dropping it deregisters
/// the fd and closes nothing.
struct Watched<'a>(BorrowedFd<'a>);

impl AsRawFd for Watched<'_> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Registers `fd` with the runtime for `interest`, for as long as the
/// borrow lasts.
fn watch(fd: BorrowedFd<'_>, interest: Interest) -> Result<AsyncFd<Watched<'_>>, Errno> {
    // SAFETY: the `BorrowedFd` keeps the fd open, naming the same open
    // file, for all of `'a`, which the `AsyncFd` cannot outlive.
    unsafe { AsyncFd::register_with_interest(Watched(fd), interest) }
        .map_err(|e| os_errno(e.into_parts().1))
}

fn os_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// After a call said `EAGAIN` although the runtime said the socket was
/// ready (`guard`): clears that readiness, and if the socket still polls
/// ready (an error or hang-up condition that the runtime keeps reporting,
/// a peek that cannot complete), waiting for the next readiness would
/// return at once and the wait would spin without ever yielding to its
/// deadline; so it sleeps instead, 1 ms doubling to 10 ms, before the next
/// try. Otherwise the next readiness is awaited.
async fn settle(
    mut guard: AsyncFdReadyGuard<'_, Watched<'_>>,
    interest: Interest,
    pause: &mut Duration,
) {
    guard.clear_ready();
    let fd = guard.get_inner().0;
    drop(guard);
    let events = if interest.is_writable() {
        libc::POLLOUT
    } else {
        libc::POLLIN | libc::POLLRDHUP
    };
    if sys::poll(fd, events, 0).is_ok_and(|revents| revents != 0) {
        *pause = (*pause * 2).clamp(Duration::from_millis(1), Duration::from_millis(10));
        tokio::time::sleep(*pause).await;
    } else {
        *pause = Duration::ZERO;
    }
}

/// Whether the call runs on a tokio runtime. Outside one, calls in
/// [`Mode::Awaiting`] block as [`Mode::Blocking`] ones do.
pub(crate) fn on_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// How a wait ended before its call was done.
enum Ended {
    /// The socket's own timeout (`SO_RCVTIMEO`, `SO_SNDTIMEO`).
    SocketTimeout,
    /// The store's blocking cap.
    Cap,
}

/// The earlier of the socket's timeout and the store's cap, from now.
fn deadline(socket: Option<Duration>, cap: Option<Duration>) -> Option<(Instant, Ended)> {
    let now = Instant::now();
    match (socket, cap) {
        (Some(s), Some(c)) if s < c => Some((now + s, Ended::SocketTimeout)),
        (_, Some(c)) => Some((now + c, Ended::Cap)),
        (Some(s), None) => Some((now + s, Ended::SocketTimeout)),
        (None, None) => None,
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn until(deadline: &Option<(Instant, Ended)>) {
    match deadline {
        Some((at, _)) => tokio::time::sleep_until(*at).await,
        None => std::future::pending().await,
    }
}

/// Runs `call`, a system call on `fd` that may wait as `wait` says.
/// `call(true)` must not block (the mode asks for that when it waits
/// itself); `call(false)` is the call as the guest made it.
pub(crate) async fn wait<R>(
    mode: Mode,
    ctx: &NativesockCtx,
    fd: BorrowedFd<'_>,
    wait: Wait,
    mut call: impl FnMut(bool) -> Result<R, Errno>,
) -> Result<R, Errno> {
    if mode == Mode::Blocking || !on_runtime() {
        return ctx.blocking(false, || call(false));
    }
    let calls = ctx.calls();
    let mut woken = pin!(calls.woken().notified());
    woken.as_mut().enable();
    if calls.is_cancelled() {
        return Err(libc::EINTR);
    }
    let pending = if wait.connect {
        libc::EINPROGRESS
    } else {
        libc::EAGAIN
    };
    match call(true) {
        Err(e) if e == pending && !wait.dontwait && !sys::get_nonblocking(fd)? => {}
        // A unix `connect` to a listener whose backlog is full: the kernel
        // sleeps on the listener's queue, which this socket gives no
        // readiness for, so the wait is a retry on a short timer.
        Err(libc::EAGAIN) if wait.connect && !sys::get_nonblocking(fd)? => {
            return backlog_wait(ctx, fd, &mut woken, call).await;
        }
        result => return result,
    }
    let interest = if wait.write {
        Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    let deadline = deadline(sys::socket_timeout(fd, wait.write), ctx.blocking_cap());
    let ready = async {
        let watched = watch(fd, interest)?;
        let mut pause = Duration::ZERO;
        loop {
            let guard = watched.ready(interest).await.map_err(os_errno)?;
            match call(true) {
                // Not yet; for a `connect`, still in progress.
                Err(e) if e == libc::EAGAIN || (wait.connect && e == libc::EALREADY) => {
                    settle(guard, interest, &mut pause).await;
                }
                result => return result,
            }
        }
    };
    tokio::select! {
        result = ready => result,
        () = &mut woken => Err(libc::EINTR),
        () = until(&deadline) => match deadline {
            Some((_, Ended::Cap)) => Err(ctx.blocking_timed_out()),
            _ => Err(pending),
        },
    }
}

/// Retries a unix `connect` that found the listener's backlog full every
/// few milliseconds (doubling to 10 ms) until it is taken in or fails
/// otherwise. `SO_SNDTIMEO` ends it with `EAGAIN`, as the kernel's
/// `unix_stream_connect` does; the cap and a cancel as any wait.
async fn backlog_wait<R>(
    ctx: &NativesockCtx,
    fd: BorrowedFd<'_>,
    woken: &mut std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    mut call: impl FnMut(bool) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let deadline = deadline(sys::socket_timeout(fd, true), ctx.blocking_cap());
    let retry = async {
        let mut pause = Duration::from_millis(1);
        loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(10));
            match call(true) {
                Err(libc::EAGAIN) => {}
                result => return result,
            }
        }
    };
    tokio::select! {
        result = retry => result,
        () = woken.as_mut() => Err(libc::EINTR),
        () = until(&deadline) => match deadline {
            Some((_, Ended::Cap)) => Err(ctx.blocking_timed_out()),
            _ => Err(libc::EAGAIN),
        },
    }
}

/// Runs `call`, which blocks without a socket to await (a host name
/// lookup in the C library), on tokio's blocking pool, and awaits it: the
/// store's cap ends the wait with `ETIMEDOUT` (and the limit event), a
/// cancel with `EINTR`, each made into the call's error by `errno`; the
/// call then finishes on its thread and its answer is dropped. The pool
/// bounds the threads (tokio's `max_blocking_threads`) and queues past
/// them.
pub(crate) async fn off_thread<R: Send + 'static, E: Send + 'static>(
    ctx: &NativesockCtx,
    call: impl FnOnce() -> Result<R, E> + Send + 'static,
    errno: fn(Errno) -> E,
) -> Result<R, E> {
    let calls = ctx.calls();
    let mut woken = pin!(calls.woken().notified());
    woken.as_mut().enable();
    if calls.is_cancelled() {
        return Err(errno(libc::EINTR));
    }
    let deadline = deadline(None, ctx.blocking_cap());
    let task = tokio::task::spawn_blocking(call);
    tokio::select! {
        joined = task => joined.unwrap_or_else(|_| Err(errno(libc::EAGAIN))),
        () = &mut woken => Err(errno(libc::EINTR)),
        () = until(&deadline) => Err(errno(ctx.blocking_timed_out())),
    }
}

/// A `send`/`sendto` of `len` bytes (`call(nonblocking, offset)` sends from
/// `offset`), ending as the blocking call ends: on a blocking stream socket
/// the kernel queues all of it, waiting for room as often as it takes, and
/// returns fewer bytes only when a signal, `SO_SNDTIMEO` or an error ends
/// the wait after some were queued. In [`Mode::Awaiting`] a first
/// non-blocking send that queues part of the data is therefore followed by
/// more, each awaiting room, under one deadline; whatever ends them (the
/// socket's timeout, the cap, a cancel, an error) returns the count so far,
/// as the kernel does. Datagram and seqpacket sends are whole or nothing,
/// and `MSG_DONTWAIT` or a non-blocking socket take what fits, as natively.
pub(crate) async fn send(
    mode: Mode,
    ctx: &NativesockCtx,
    fd: BorrowedFd<'_>,
    wait: Wait,
    len: usize,
    mut call: impl FnMut(bool, usize) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let first = self::wait(mode, ctx, fd, wait, |nonblocking| call(nonblocking, 0)).await?;
    if first == 0 || first >= len || !goes_on(mode, wait, fd)? {
        return Ok(first);
    }
    // Shared by the sending future and what follows it (`Send`, as the
    // host call's future must be).
    let sent = AtomicUsize::new(first);
    let rest = async {
        let watched = watch(fd, Interest::WRITABLE)?;
        let mut pause = Duration::ZERO;
        while sent.load(Relaxed) < len {
            let guard = watched.ready(Interest::WRITABLE).await.map_err(os_errno)?;
            match call(true, sent.load(Relaxed)) {
                Err(libc::EAGAIN) => settle(guard, Interest::WRITABLE, &mut pause).await,
                Ok(n) => {
                    sent.fetch_add(n, Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    go_on(ctx, fd, true, rest).await;
    Ok(sent.into_inner())
}

/// A `recv` with `MSG_WAITALL` of up to `want` bytes
/// (`call(nonblocking, room)` receives at most `room`, or as the guest
/// asked when `None`), ending as the blocking call ends: on a blocking
/// stream socket the kernel waits until all `want` bytes arrived, the peer
/// shut down, or a signal, `SO_RCVTIMEO` or an error ended the wait, and
/// returns what it has. In [`Mode::Awaiting`] a first non-blocking receive
/// that brings part is therefore followed by more, each awaiting data,
/// under one deadline. `want` 0 (no `MSG_WAITALL`) is one receive.
pub(crate) async fn recv_all(
    mode: Mode,
    ctx: &NativesockCtx,
    fd: BorrowedFd<'_>,
    wait: Wait,
    want: usize,
    mut call: impl FnMut(bool, Option<usize>) -> Result<Vec<u8>, Errno>,
) -> Result<Vec<u8>, Errno> {
    let first = self::wait(mode, ctx, fd, wait, |nonblocking| call(nonblocking, None)).await?;
    if first.is_empty() || first.len() >= want || !goes_on(mode, wait, fd)? {
        return Ok(first);
    }
    // Shared by the receiving future and what follows it (`Send`).
    let got = std::sync::Mutex::new(first);
    let rest = async {
        let watched = watch(fd, Interest::READABLE)?;
        let mut pause = Duration::ZERO;
        loop {
            let room = want - got.lock().map_or(want, |g| g.len());
            if room == 0 {
                return Ok(());
            }
            let guard = watched.ready(Interest::READABLE).await.map_err(os_errno)?;
            match call(true, Some(room)) {
                Err(libc::EAGAIN) => settle(guard, Interest::READABLE, &mut pause).await,
                // The peer shut down: what arrived is the answer.
                Ok(more) if more.is_empty() => return Ok(()),
                Ok(more) => {
                    if let Ok(mut got) = got.lock() {
                        got.extend_from_slice(&more);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    };
    go_on(ctx, fd, false, rest).await;
    Ok(got.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// Whether a stream call whose first, non-blocking try moved only part
/// goes on as the blocking call would: in [`Mode::Awaiting`] on a runtime,
/// on a blocking `SOCK_STREAM` socket, without `MSG_DONTWAIT`.
fn goes_on(mode: Mode, wait: Wait, fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    Ok(mode == Mode::Awaiting
        && !wait.dontwait
        && on_runtime()
        && sys::socket_type(fd) == Some(libc::SOCK_STREAM)
        && !sys::get_nonblocking(fd)?)
}

/// Runs `rest`, the rest of a stream call after its first part, until it
/// ends or the socket's timeout, the store's cap (with its limit event) or
/// a cancel ends it: whatever ends it, the call returns what it moved.
async fn go_on(ctx: &NativesockCtx, fd: BorrowedFd<'_>, write: bool, rest: impl Future) {
    let deadline = deadline(sys::socket_timeout(fd, write), ctx.blocking_cap());
    let calls = ctx.calls();
    let mut woken = pin!(calls.woken().notified());
    woken.as_mut().enable();
    if calls.is_cancelled() {
        return;
    }
    tokio::select! {
        // An error after part of the call is the next call's.
        _ = rest => {}
        () = &mut woken => {}
        () = until(&deadline) => {
            if let Some((_, Ended::Cap)) = deadline {
                // The limit event; the call still returns what it moved.
                let _ = ctx.blocking_timed_out();
            }
        }
    }
}

/// Runs a `poll` over `fds` (`run(timeout_ms)`) that waits at most
/// `timeout_ms` (negative: for ever) and the blocking cap; `timed_out`
/// tells a result in which nothing is ready.
pub(crate) async fn poll<R>(
    mode: Mode,
    ctx: &NativesockCtx,
    fds: &[(Option<BorrowedFd<'_>>, i16)],
    timeout_ms: i32,
    mut run: impl FnMut(i32) -> Result<R, Errno>,
    timed_out: impl Fn(&R) -> bool,
) -> Result<R, Errno> {
    if mode == Mode::Blocking || !on_runtime() {
        return ctx.capped_poll(timeout_ms, run, timed_out);
    }
    let calls = ctx.calls();
    let mut woken = pin!(calls.woken().notified());
    woken.as_mut().enable();
    if calls.is_cancelled() {
        return Err(libc::EINTR);
    }
    let first = run(0)?;
    if timeout_ms == 0 || !timed_out(&first) {
        return Ok(first);
    }
    // One epoll instance holding every fd with the very events the
    // guest polls for (level-triggered): it is readable exactly when
    // the poll would return, and it is what the runtime watches.
    let Some(epoll) = epoll_of(fds)? else {
        // An fd epoll cannot watch: wait as a blocking store does.
        return ctx.capped_poll(timeout_ms, run, timed_out);
    };
    let guest = u64::try_from(timeout_ms)
        .ok()
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let cap = ctx.blocking_cap().map(|cap| Instant::now() + cap);
    let (at, capped) = match (guest, cap) {
        (Some(g), Some(c)) if c < g => (Some(c), true),
        (None, Some(c)) => (Some(c), true),
        (g, _) => (g, false),
    };
    let ready = async {
        let watched = watch(epoll.as_fd(), Interest::READABLE)?;
        loop {
            let mut guard = watched.readable().await.map_err(os_errno)?;
            let result = run(0)?;
            if !timed_out(&result) {
                return Ok(result);
            }
            guard.clear_ready();
        }
    };
    let sleep = async {
        match at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        result = ready => return result,
        () = &mut woken => return Err(libc::EINTR),
        () = sleep => capped,
    };
    drop(epoll);
    let last = run(0)?;
    if ended && timed_out(&last) {
        return Err(ctx.blocking_timed_out());
    }
    Ok(last)
}

/// An epoll instance watching `fds` for their `poll` events (the bits
/// mean the same in both on Linux); `None` if one of them is of a kind
/// epoll cannot watch.
fn epoll_of(fds: &[(Option<BorrowedFd<'_>>, i16)]) -> Result<Option<OwnedFd>, Errno> {
    use rustix::event::epoll;
    let errno = |e: rustix::io::Errno| e.raw_os_error();
    let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(errno)?;
    // One entry per fd: the same fd twice polls for both sets of events.
    let mut merged: Vec<(BorrowedFd<'_>, u32)> = Vec::new();
    for &(fd, events) in fds {
        let Some(fd) = fd else { continue };
        let bits = u32::from(events.cast_unsigned());
        match merged
            .iter_mut()
            .find(|(f, _)| f.as_raw_fd() == fd.as_raw_fd())
        {
            Some((_, e)) => *e |= bits,
            None => merged.push((fd, bits)),
        }
    }
    for (fd, bits) in merged {
        let flags = epoll::EventFlags::from_bits_retain(bits);
        match epoll::add(&epoll, fd.as_fd(), epoll::EventData::new_u64(0), flags) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM) => return Ok(None),
            Err(e) => return Err(errno(e)),
        }
    }
    Ok(Some(epoll))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Mode::Awaiting;
    use crate::NativesockCtx;
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering::Relaxed;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A plain C struct (`timeval`, `linger`) as a socket option's value.
    fn option_bytes<T: Copy>(value: &T) -> &[u8] {
        // SAFETY: `value` is a plain C struct of `size_of::<T>()` bytes,
        // borrowed for the slice's lifetime.
        unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
    }

    fn pair(ctx: &mut NativesockCtx) -> (i32, i32) {
        ctx.socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap()
    }

    /// A blocking stream send queues all of its data, as the kernel's
    /// does, awaiting room each time the buffer fills; `SO_SNDTIMEO` ends
    /// it with the count so far; a non-blocking socket takes what fits.
    #[test]
    fn a_blocking_stream_send_waits_until_all_is_queued() {
        use std::io::Read as _;
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let (a, b) = pair(&mut ctx);
        let data = vec![7u8; 4 << 20];
        let peer = std::os::unix::net::UnixStream::from(ctx.take_fd(b).unwrap());
        let reader = std::thread::spawn(move || {
            let mut peer = peer;
            let mut got = vec![0; 4 << 20];
            std::thread::sleep(Duration::from_millis(50));
            peer.read_exact(&mut got).unwrap();
            (peer, got)
        });
        let sent = rt().block_on(ctx.send_in(Awaiting, a, &data, 0)).unwrap();
        assert_eq!(sent, 1 << 20, "the per-call cap, and then all of it");
        let rest = rt().block_on(async {
            let mut sent = sent;
            while sent < data.len() {
                sent += ctx.send_in(Awaiting, a, &data[sent..], 0).await.unwrap();
            }
            sent
        });
        assert_eq!(rest, data.len());
        let (peer, got) = reader.join().unwrap();
        assert!(got == data);

        // Nobody reads now: SO_SNDTIMEO ends the send with what was queued.
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        let bytes = option_bytes(&timeout);
        ctx.setsockopt(a, libc::SOL_SOCKET, libc::SO_SNDTIMEO, bytes)
            .unwrap();
        let start = std::time::Instant::now();
        let sent = rt()
            .block_on(ctx.send_in(Awaiting, a, &data[..1 << 20], 0))
            .unwrap();
        assert!(0 < sent && sent < 1 << 20, "{sent}");
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "{:?}",
            start.elapsed()
        );
        // Full now: the timeout with nothing queued is EAGAIN, as natively.
        assert_eq!(
            rt().block_on(ctx.send_in(Awaiting, a, &data[..1 << 20], 0)),
            Err(libc::EAGAIN)
        );
        drop(peer);
    }

    /// A blocking stream `sendmsg` queues all of its buffers, in order.
    #[test]
    fn a_blocking_stream_sendmsg_queues_every_buffer() {
        use std::io::Read as _;
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let (a, b) = pair(&mut ctx);
        let first: Vec<u8> = (0..400 << 10).map(|i| (i % 251) as u8).collect();
        let second: Vec<u8> = (0..400 << 10).map(|i| (i % 241) as u8).collect();
        let peer = std::os::unix::net::UnixStream::from(ctx.take_fd(b).unwrap());
        let reader = std::thread::spawn(move || {
            let mut peer = peer;
            let mut got = vec![0; 800 << 10];
            std::thread::sleep(Duration::from_millis(50));
            peer.read_exact(&mut got).unwrap();
            got
        });
        let sent = rt()
            .block_on(ctx.sendmsg_in(Awaiting, a, &[&first, &second], &[], 0, None))
            .unwrap();
        assert_eq!(sent, 800 << 10);
        let got = reader.join().unwrap();
        assert!(got[..400 << 10] == first[..] && got[400 << 10..] == second[..]);
    }

    /// `MSG_WAITALL` on a blocking stream socket waits for all of the
    /// length, as the kernel's does; the peer's shutdown or `SO_RCVTIMEO`
    /// end it with what arrived.
    #[test]
    fn msg_waitall_waits_for_the_whole_length() {
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let (a, b) = pair(&mut ctx);
        let peer = ctx.take_fd(b).unwrap();
        let writer = std::thread::spawn(move || {
            let send = |data: &[u8]| {
                rustix::net::send(&peer, data, rustix::net::SendFlags::empty()).unwrap();
            };
            send(b"abc");
            std::thread::sleep(Duration::from_millis(100));
            send(b"defg");
            std::thread::sleep(Duration::from_millis(100));
            send(b"hij");
            // Then three bytes and the end.
            std::thread::sleep(Duration::from_millis(100));
            send(b"xyz");
            rustix::net::shutdown(&peer, rustix::net::Shutdown::Write).unwrap();
            peer
        });
        let got = rt()
            .block_on(ctx.recv_in(Awaiting, a, 10, libc::MSG_WAITALL))
            .unwrap();
        assert_eq!(got, b"abcdefghij");
        let got = rt()
            .block_on(ctx.recv_in(Awaiting, a, 10, libc::MSG_WAITALL))
            .unwrap();
        assert_eq!(got, b"xyz", "the peer shut down after three bytes");
        let peer = writer.join().unwrap();
        drop(peer);

        // SO_RCVTIMEO ends the wait with what arrived.
        let (a, b) = pair(&mut ctx);
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        let bytes = option_bytes(&timeout);
        ctx.setsockopt(a, libc::SOL_SOCKET, libc::SO_RCVTIMEO, bytes)
            .unwrap();
        let peer = ctx.take_fd(b).unwrap();
        rustix::net::send(&peer, b"ab", rustix::net::SendFlags::empty()).unwrap();
        let start = std::time::Instant::now();
        let got = rt()
            .block_on(ctx.recv_in(Awaiting, a, 10, libc::MSG_WAITALL))
            .unwrap();
        assert_eq!(got, b"ab");
        assert!(start.elapsed() >= Duration::from_millis(150));
        // Without MSG_WAITALL a receive returns what is there at once.
        rustix::net::send(&peer, b"cd", rustix::net::SendFlags::empty()).unwrap();
        assert_eq!(
            rt().block_on(ctx.recv_in(Awaiting, a, 10, 0)).unwrap(),
            b"cd"
        );
    }

    #[test]
    fn a_blocking_recv_awaits_and_leaves_the_socket_blocking() {
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let (a, b) = pair(&mut ctx);
        let copy = ctx.dup(a).unwrap();
        let _peer = rt().block_on(async {
            let peer = ctx.take_fd(b).unwrap();
            let writer = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                rustix::net::send(&peer, b"hi", rustix::net::SendFlags::empty()).unwrap();
                peer
            });
            let got = ctx.recv_in(Awaiting, a, 10, 0).await.unwrap();
            assert_eq!(got, b"hi");
            writer.await.unwrap()
        });
        // Blocking as the guest left it, on both fds of the open file.
        assert!(!ctx.get_nonblocking(a).unwrap());
        assert!(!ctx.get_nonblocking(copy).unwrap());
        // And what the guest sets, the awaiting calls honour, on both fds.
        ctx.set_nonblocking(copy, true).unwrap();
        assert_eq!(
            rt().block_on(ctx.recv_in(Awaiting, a, 10, 0)),
            Err(libc::EAGAIN)
        );
    }

    #[test]
    fn a_nonblocking_recv_is_eagain_and_msg_dontwait_too() {
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let (a, _b) = pair(&mut ctx);
        let rt = rt();
        let got = rt.block_on(ctx.recv_in(Awaiting, a, 10, libc::MSG_DONTWAIT));
        assert_eq!(got, Err(libc::EAGAIN));
        ctx.set_nonblocking(a, true).unwrap();
        assert_eq!(
            rt.block_on(ctx.recv_in(Awaiting, a, 10, 0)),
            Err(libc::EAGAIN)
        );
    }

    #[test]
    fn so_rcvtimeo_ends_the_wait_with_eagain() {
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let (a, _b) = pair(&mut ctx);
        // 100 ms
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        // SAFETY: `timeval` is plain old data.
        let raw: [u8; std::mem::size_of::<libc::timeval>()] = unsafe { std::mem::transmute(tv) };
        ctx.setsockopt(a, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &raw)
            .unwrap();
        let start = std::time::Instant::now();
        assert_eq!(
            rt().block_on(ctx.recv_in(Awaiting, a, 10, 0)),
            Err(libc::EAGAIN)
        );
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(90), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn a_dropped_call_leaks_nothing_and_the_socket_still_works() {
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let (a, b) = pair(&mut ctx);
        let rt = rt();
        for _ in 0..100 {
            let timed_out = rt.block_on(async {
                tokio::time::timeout(Duration::from_millis(1), ctx.recv_in(Awaiting, a, 10, 0))
                    .await
            });
            assert!(timed_out.is_err(), "still waiting when dropped");
            let polled = rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_millis(1),
                    ctx.poll_in(Awaiting, a, libc::POLLIN, -1),
                )
                .await
            });
            assert!(polled.is_err(), "still waiting when dropped");
        }
        // The store still holds just its two fds. Each dropped wait dropped
        // its registration with the runtime too: every round of the loop
        // registers the fd again, which fails (`EEXIST`, so no timeout)
        // while an earlier registration is left.
        assert_eq!(ctx.owned_fds(), [a.min(b), a.max(b)]);
        assert_eq!(ctx.send(b, b"x", 0), Ok(1));
        assert_eq!(
            rt.block_on(ctx.recv_in(Awaiting, a, 10, 0)),
            Ok(b"x".to_vec())
        );
    }

    #[test]
    fn poll_awaits_its_timeout_or_an_event() {
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let (a, b) = pair(&mut ctx);
        let rt = rt();
        let start = std::time::Instant::now();
        assert_eq!(
            rt.block_on(ctx.poll_in(Awaiting, a, libc::POLLIN, 100)),
            Ok(0)
        );
        assert!(start.elapsed() >= Duration::from_millis(90));
        assert_eq!(ctx.send(b, b"x", 0), Ok(1));
        let fds = [(a, libc::POLLIN), (b, libc::POLLOUT), (a, libc::POLLOUT)];
        assert_eq!(
            rt.block_on(ctx.poll_fds_in(Awaiting, &fds, -1)),
            Ok(vec![libc::POLLIN, libc::POLLOUT, libc::POLLOUT])
        );
        // POLLRDHUP, which only the exact events show.
        let peer = ctx.take_fd(b).unwrap();
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(peer);
        });
        let revents = rt
            .block_on(ctx.poll_in(Awaiting, a, libc::POLLRDHUP, 5000))
            .unwrap();
        assert_ne!(revents & libc::POLLRDHUP, 0, "{revents:#x}");
        closer.join().unwrap();
    }

    #[test]
    fn the_cap_ends_an_awaiting_call_with_etimedout() {
        let mut ctx = NativesockCtx::builder()
            .inherit_network()
            .max_blocking_time(Some(Duration::from_millis(100)))
            .build();
        let (a, _b) = pair(&mut ctx);
        let rt = rt();
        assert_eq!(
            rt.block_on(ctx.recv_in(Awaiting, a, 10, 0)),
            Err(libc::ETIMEDOUT)
        );
        assert_eq!(
            rt.block_on(ctx.poll_in(Awaiting, a, libc::POLLIN, -1)),
            Err(libc::ETIMEDOUT)
        );
        // A guest timeout shorter than the cap is the guest's: 0, not ETIMEDOUT.
        assert_eq!(
            rt.block_on(ctx.poll_in(Awaiting, a, libc::POLLIN, 20)),
            Ok(0)
        );
    }

    #[test]
    fn connect_and_accept_await_and_end_as_blocking_ones_do() {
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let rt = rt();
        let server = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        let any = crate::sys::SockAddr::Inet("127.0.0.1:0".parse().unwrap());
        ctx.bind(server, &any).unwrap();
        ctx.listen(server, 1).unwrap();
        let address = ctx.getsockname(server).unwrap();
        let client = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        assert_eq!(
            rt.block_on(ctx.connect_in(Awaiting, client, &address)),
            Ok(())
        );
        assert_eq!(
            rt.block_on(ctx.connect_in(Awaiting, client, &address)),
            Err(libc::EISCONN)
        );
        let (conn, _) = rt.block_on(ctx.accept_in(Awaiting, server, 0)).unwrap();
        assert!(!ctx.get_nonblocking(conn).unwrap());
        assert!(!ctx.get_nonblocking(server).unwrap());
        assert!(!ctx.get_nonblocking(client).unwrap());
        // Nothing to accept: still waiting when the test gives up.
        let waited = rt.block_on(async {
            tokio::time::timeout(
                Duration::from_millis(50),
                ctx.accept_in(Awaiting, server, 0),
            )
            .await
        });
        assert!(waited.is_err());
        // A closed port: refused, as a blocking connect is.
        ctx.close(server).unwrap();
        let refused = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        assert_eq!(
            rt.block_on(ctx.connect_in(Awaiting, refused, &address)),
            Err(libc::ECONNREFUSED)
        );
    }

    /// A unix `connect` to a listener whose backlog is full waits until
    /// the listener takes a connection in, as a blocking one does, and
    /// `SO_SNDTIMEO` ends it with `EAGAIN`.
    #[test]
    fn a_unix_connect_waits_for_a_full_backlog() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let address = crate::sys::SockAddr::Unix(path.as_os_str().as_encoded_bytes().to_vec());
        let mut ctx = NativesockCtx::builder().inherit_network().build();
        let server = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        ctx.bind(server, &address).unwrap();
        ctx.listen(server, 0).unwrap();
        // Fill the backlog: with backlog 0 one connection waits in it.
        let filler = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        rt().block_on(ctx.connect_in(Awaiting, filler, &address))
            .unwrap();
        let listener = ctx.take_fd(server).unwrap();
        let acceptor = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let conn = rustix::net::accept(&listener).unwrap();
            (listener, conn)
        });
        let client = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        let start = std::time::Instant::now();
        assert_eq!(
            rt().block_on(ctx.connect_in(Awaiting, client, &address)),
            Ok(())
        );
        assert!(
            start.elapsed() >= Duration::from_millis(100),
            "{:?}",
            start.elapsed()
        );
        assert!(!ctx.get_nonblocking(client).unwrap());
        let (listener, _conn) = acceptor.join().unwrap();

        // Full again, and nobody accepts: SO_SNDTIMEO ends the wait.
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        let bytes = option_bytes(&timeout);
        let late = ctx.socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        ctx.setsockopt(late, libc::SOL_SOCKET, libc::SO_SNDTIMEO, bytes)
            .unwrap();
        let start = std::time::Instant::now();
        assert_eq!(
            rt().block_on(ctx.connect_in(Awaiting, late, &address)),
            Err(libc::EAGAIN)
        );
        assert!(start.elapsed() >= Duration::from_millis(150));
        drop(listener);
    }

    /// A lookup in an awaiting store runs off the runtime's thread: other
    /// tasks go on meanwhile, and the cap and a cancel end the wait.
    #[test]
    fn lookups_run_off_the_runtime_and_end_on_the_cap_or_a_cancel() {
        let slow = || {
            std::thread::sleep(Duration::from_millis(300));
            Ok::<u8, i32>(7)
        };
        let ctx = NativesockCtx::builder().build();
        let (answer, ticks) = rt().block_on(async {
            // Ticks every 10 ms; counted when the call returns.
            let ticks = std::sync::Arc::new(AtomicUsize::new(0));
            let counter = ticks.clone();
            let ticker = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    counter.fetch_add(1, Relaxed);
                }
            });
            let answer = ctx.lookup_in(Awaiting, slow, |e| e).await;
            ticker.abort();
            (answer, ticks.load(Relaxed))
        });
        assert_eq!(answer, Ok(7));
        // 300 ms: about 30 ticks, none if the lookup held the thread.
        assert!(ticks >= 10, "the runtime ran on during the lookup: {ticks}");

        let ctx = NativesockCtx::builder()
            .max_blocking_time(Some(Duration::from_millis(50)))
            .build();
        // (Timed inside the runtime: dropping it waits for its blocking pool.)
        let (got, took) = rt().block_on(async {
            let start = std::time::Instant::now();
            let got = ctx.lookup_in(Awaiting, slow, |e| e).await;
            (got, start.elapsed())
        });
        assert_eq!(got, Err(libc::ETIMEDOUT));
        assert!(took < Duration::from_millis(250), "{took:?}");

        let mut builder = NativesockCtx::builder();
        let cancel = builder.cancel_handle();
        let ctx = builder.build();
        let (got, took) = rt().block_on(async {
            let start = std::time::Instant::now();
            let canceller = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                cancel.cancel();
            });
            let got = ctx.lookup_in(Awaiting, slow, |e| e).await;
            canceller.await.unwrap();
            (got, start.elapsed())
        });
        assert_eq!(got, Err(libc::EINTR));
        assert!(took < Duration::from_millis(250), "{took:?}");
    }

    /// A close that lingers (`SO_LINGER` with a time, data unsent) runs off
    /// the runtime's thread, and the cap ends its wait as it ends a
    /// blocking one's.
    #[test]
    fn a_lingering_close_runs_off_the_runtime_under_the_cap() {
        let mut ctx = NativesockCtx::builder()
            .inherit_network()
            .max_blocking_time(Some(Duration::from_millis(200)))
            .build();
        let rt = rt();
        let server = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        let any = crate::sys::SockAddr::Inet("127.0.0.1:0".parse().unwrap());
        ctx.bind(server, &any).unwrap();
        ctx.listen(server, 1).unwrap();
        let address = ctx.getsockname(server).unwrap();
        let client = ctx.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        rt.block_on(ctx.connect_in(Awaiting, client, &address))
            .unwrap();
        let (_conn, _) = rt.block_on(ctx.accept_in(Awaiting, server, 0)).unwrap();
        // Fill the send buffer (nobody reads), then linger for 10 s.
        ctx.set_nonblocking(client, true).unwrap();
        let data = vec![0u8; 1 << 16];
        while rt.block_on(ctx.send_in(Awaiting, client, &data, 0)).is_ok() {}
        ctx.set_nonblocking(client, false).unwrap();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 10,
        };
        let bytes = option_bytes(&linger);
        ctx.setsockopt(client, libc::SOL_SOCKET, libc::SO_LINGER, bytes)
            .unwrap();
        let start = std::time::Instant::now();
        let (closed, ticks) = rt.block_on(async {
            // Ticks every 10 ms; counted when the call returns.
            let ticks = std::sync::Arc::new(AtomicUsize::new(0));
            let counter = ticks.clone();
            let ticker = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    counter.fetch_add(1, Relaxed);
                }
            });
            let closed = ctx.close_in(Awaiting, client).await;
            ticker.abort();
            (closed, ticks.load(Relaxed))
        });
        // The cap interrupts the linger as it interrupts a blocking close:
        // the kernel then closes without waiting (and reports success, or
        // the timeout the cap makes of an `EINTR`).
        let took = start.elapsed();
        assert!(
            matches!(closed, Ok(()) | Err(libc::ETIMEDOUT)),
            "{closed:?} after {took:?}"
        );
        assert!(
            (Duration::from_millis(150)..Duration::from_secs(5)).contains(&took),
            "{took:?}"
        );
        // 200 ms: about 20 ticks, none if the close held the thread.
        assert!(ticks >= 8, "the runtime ran on during the close: {ticks}");
        assert!(!ctx.owns_fd(client));
    }
}
