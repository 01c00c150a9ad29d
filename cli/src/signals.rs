//! Ctrl-C for the CLI: `SIGINT` interrupts the guest's blocking call with
//! `EINTR`, and `check-signals` then reports it once as `KeyboardInterrupt`.
//!
//! The signal must land on the thread that runs the guest, or the call it
//! sleeps in would not be interrupted. So:
//!
//! 1. [`block_sigint`] runs first thing in `main`, before any thread exists:
//!    every thread spawned later (wasmtime's, tokio's) inherits the mask.
//! 2. [`install_handler`] installs the handler *without* `SA_RESTART`, so
//!    an interrupted `connect`/`poll`/`recv` fails with `EINTR` instead of
//!    being restarted by the kernel.
//! 3. [`GuestThread::enter`] unblocks `SIGINT` on the guest's thread only,
//!    right before the guest runs. A thread spawned by the guest thread
//!    afterwards inherits the unblocked mask; if the signal lands there,
//!    the handler forwards it to the guest thread with `pthread_kill`.
//!
//! A second Ctrl-C while the first is still unreported (a guest busy
//! computing never asks) exits the process at once with status 130.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A `SIGINT` arrived that `check-signals` has not reported yet.
static PENDING: AtomicBool = AtomicBool::new(false);
/// A `SIGINT` arrived during this run.
static RECEIVED: AtomicBool = AtomicBool::new(false);
/// The guest thread's `pthread_t` (an `unsigned long` on Linux, as wide as
/// `usize`), or 0 when no guest runs.
static GUEST: AtomicUsize = AtomicUsize::new(0);

/// The exit status of a process ended by Ctrl-C (128 + `SIGINT`).
pub(crate) const EXIT_INTERRUPTED: i32 = 130;

extern "C" fn on_sigint(_: libc::c_int) {
    // Only async-signal-safe calls here: atomics, pthread_self,
    // pthread_kill, _exit.
    let guest = GUEST.load(Ordering::SeqCst);
    // SAFETY: `pthread_self` has no preconditions.
    let me = unsafe { libc::pthread_self() } as usize;
    if guest != 0 && me != guest {
        // SAFETY: `guest` is the running guest thread: `GuestThread` clears
        // it before that thread stops running the guest.
        unsafe { libc::pthread_kill(guest as libc::pthread_t, libc::SIGINT) };
        return;
    }
    RECEIVED.store(true, Ordering::SeqCst);
    if PENDING.swap(true, Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe and ends the process.
        unsafe { libc::_exit(EXIT_INTERRUPTED) };
    }
}

fn sigint_set() -> libc::sigset_t {
    // SAFETY: `sigemptyset` initializes the set it is given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        set
    }
}

fn sigmask(how: libc::c_int) -> io::Result<()> {
    let set = sigint_set();
    // SAFETY: a valid set; the old mask is not wanted.
    match unsafe { libc::pthread_sigmask(how, &set, std::ptr::null_mut()) } {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Blocks `SIGINT` on the calling thread (and so on every thread it spawns).
pub(crate) fn block_sigint() -> io::Result<()> {
    sigmask(libc::SIG_BLOCK)
}

/// Installs the `SIGINT` handler, without `SA_RESTART`.
pub(crate) fn install_handler() -> io::Result<()> {
    // SAFETY: `sigaction` is plain old data; the handler only does
    // async-signal-safe things.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        if libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Reports a pending `SIGINT` once: what `check-signals` runs.
pub(crate) fn take_pending() -> bool {
    PENDING.swap(false, Ordering::SeqCst)
}

/// Whether a `SIGINT` arrived since the process started.
pub(crate) fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst)
}

/// The calling thread, while it runs the guest: `SIGINT` is unblocked on
/// it and forwarded to it. Dropping this blocks `SIGINT` again.
pub(crate) struct GuestThread(());

impl GuestThread {
    /// Makes the calling thread the guest thread.
    pub(crate) fn enter() -> io::Result<GuestThread> {
        // SAFETY: `pthread_self` has no preconditions.
        GUEST.store(unsafe { libc::pthread_self() } as usize, Ordering::SeqCst);
        if let Err(e) = sigmask(libc::SIG_UNBLOCK) {
            GUEST.store(0, Ordering::SeqCst);
            return Err(e);
        }
        Ok(GuestThread(()))
    }
}

impl Drop for GuestThread {
    fn drop(&mut self) {
        let _ = sigmask(libc::SIG_BLOCK);
        GUEST.store(0, Ordering::SeqCst);
    }
}
