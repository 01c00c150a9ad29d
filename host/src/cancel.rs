//! Waking a host call that blocks: cancellation by the embedder and the
//! per-call blocking time cap.
//!
//! A blocking host call (`connect`, `accept`, `send`, `sendto`, `recv`,
//! `recvfrom`, `poll`, `close`) makes its system call exactly as a native
//! program would; nothing is rewritten into polling loops. To wake it, the
//! host delivers a signal ([`wake_signal`], a no-op handler installed
//! without `SA_RESTART`) to the thread that sleeps in the call, so the
//! system call fails with `EINTR` right away:
//!
//! * [`CancelHandle::cancel`] (any thread) marks the store cancelled and
//!   signals the thread if it is inside a blocking call. From then on the
//!   store's blocking calls fail with `EINTR` without being made, and
//!   `check-signals` reports the cancellation exception, so the guest's
//!   PEP 475 loop stops instead of retrying.
//! * With a [blocking time cap](crate::NativesockCtxBuilder::max_blocking_time),
//!   a watchdog thread signals a call that is still inside its system call
//!   when the cap runs out, and the call fails with `ETIMEDOUT`.
//!
//! A signal can land between the check and the system call; so, as long as
//! the call has not returned, the watchdog signals it again every
//! [`KICK_INTERVAL`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::hooks::Raised;
use crate::sys::Errno;

/// How often a call that should wake is signalled again until it does.
const KICK_INTERVAL: Duration = Duration::from_millis(5);

/// The signal that wakes a blocking host call: `SIGRTMIN + 3`.
///
/// nativesock installs a handler that does nothing, without `SA_RESTART`,
/// the first time a store gets a [`CancelHandle`] or a blocking time cap.
/// The threads that run stores must not block this signal, and the
/// embedder must not use it for anything else.
pub fn wake_signal() -> i32 {
    libc::SIGRTMIN() + 3
}

extern "C" fn on_wake(_: libc::c_int) {}

/// Installs the wake signal's handler once per process.
fn install_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is valid; the handler does nothing.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_wake as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            // No SA_RESTART: the interrupted call must fail with EINTR.
            sa.sa_flags = 0;
            libc::sigaction(wake_signal(), &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            tracing::error!(
                "failed to install the wake signal's handler: {}",
                std::io::Error::last_os_error()
            );
        }
    });
}

/// The store's thread while it is inside a blocking call.
#[derive(Default)]
struct Inside {
    /// The thread in the call, or `None` between calls.
    thread: Option<libc::pthread_t>,
    /// When the call's time cap runs out.
    deadline: Option<Instant>,
    /// The cap ran out and the thread was signalled.
    timed_out: bool,
}

/// A store's blocking-call state, shared with its [`CancelHandle`]s and the
/// watchdog.
pub(crate) struct CallState {
    inside: Mutex<Inside>,
    cancelled: AtomicBool,
    /// What `check-signals` raises once cancelled.
    raised: Mutex<Raised>,
    /// Whether the watchdog knows this state.
    watched: AtomicBool,
    /// A handle exists or a cap is set: calls register their thread.
    armed: AtomicBool,
    /// Wakes the calls of an async store that await readiness (`wait.rs`),
    /// which no signal reaches.
    woken: tokio::sync::Notify,
}

impl Default for CallState {
    fn default() -> Self {
        CallState {
            inside: Mutex::default(),
            cancelled: AtomicBool::new(false),
            raised: Mutex::new(cancelled_error()),
            watched: AtomicBool::new(false),
            armed: AtomicBool::new(false),
            woken: tokio::sync::Notify::new(),
        }
    }
}

/// What a cancelled store's `check-signals` raises by default:
/// `CancelledError`, a `BaseException` in Python (as `asyncio`'s), so
/// `except Exception` does not swallow it.
pub fn cancelled_error() -> Raised {
    Raised::new("CancelledError", "the host cancelled the call")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CallState {
    /// Makes calls register their thread from now on.
    pub(crate) fn arm(&self) {
        install_handler();
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Whether a handle exists or a cap is set.
    pub(crate) fn is_armed(&self) -> bool {
        self.armed.load(Ordering::SeqCst)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// What a cancel notifies: the async calls' awaits (`wait.rs`).
    pub(crate) fn woken(&self) -> &tokio::sync::Notify {
        &self.woken
    }

    /// The exception a cancelled store raises.
    pub(crate) fn raised(&self) -> Raised {
        lock(&self.raised).clone()
    }

    /// Signals the thread inside a call, if any: `true` when one was.
    fn kick(&self, inside: &Inside) -> bool {
        match inside.thread {
            Some(thread) => {
                // SAFETY: `thread` is inside a call of this store and cannot
                // leave it (and exit) while the caller holds `inside`'s lock.
                unsafe { libc::pthread_kill(thread, wake_signal()) };
                true
            }
            None => false,
        }
    }
}

/// Runs `call`, a system call that may block, so that it can be woken:
/// `EINTR` without making it when the store is cancelled (unless `always`,
/// for `close`, which must happen), `ETIMEDOUT` when `cap` ran out while it
/// slept.
pub(crate) fn blocking<R>(
    state: &Arc<CallState>,
    cap: Option<Duration>,
    always: bool,
    call: impl FnOnce() -> Result<R, Errno>,
) -> Result<R, Errno> {
    if !state.armed.load(Ordering::Relaxed) && cap.is_none() {
        return call();
    }
    let deadline = cap.map(|cap| Instant::now() + cap);
    {
        let mut inside = lock(&state.inside);
        // SAFETY: `pthread_self` has no preconditions.
        inside.thread = Some(unsafe { libc::pthread_self() });
        inside.deadline = deadline;
        inside.timed_out = false;
    }
    if let Some(deadline) = deadline {
        watchdog().watch(state, Some(deadline));
    }
    // After registering: a `cancel` that came first is seen here, one that
    // comes later sees the thread (see the module docs).
    let result = if state.is_cancelled() && !always {
        Err(libc::EINTR)
    } else {
        call()
    };
    let timed_out = {
        let mut inside = lock(&state.inside);
        inside.thread = None;
        inside.deadline = None;
        std::mem::take(&mut inside.timed_out)
    };
    match result {
        Err(libc::EINTR) if timed_out && !state.is_cancelled() => Err(libc::ETIMEDOUT),
        result => result,
    }
}

/// Cancels a store's blocking calls from any thread: a `Send + Sync +
/// Clone` handle from [`NativesockCtxBuilder::cancel_handle`] or
/// [`NativesockCtx::cancel_handle`].
///
/// [`cancel`](CancelHandle::cancel) wakes a call that sleeps in the kernel
/// (`EINTR`), makes every later blocking call of the store fail with `EINTR`
/// without being made, and makes `check-signals` raise
/// [`cancelled_error`] (or what [`cancel_with`](CancelHandle::cancel_with)
/// names), so the guest's retry loop ends with that exception. Guest code
/// that never calls the host is not stopped by this: use wasmtime's epoch
/// interruption (`Config::epoch_interruption`) for that.
///
/// [`NativesockCtxBuilder::cancel_handle`]: crate::NativesockCtxBuilder::cancel_handle
/// [`NativesockCtx::cancel_handle`]: crate::NativesockCtx::cancel_handle
#[derive(Clone)]
pub struct CancelHandle {
    state: Arc<CallState>,
}

impl std::fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelHandle")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelHandle {
    pub(crate) fn new(state: &Arc<CallState>) -> CancelHandle {
        state.arm();
        CancelHandle {
            state: state.clone(),
        }
    }

    /// Cancels the store's blocking calls, the one in progress included.
    pub fn cancel(&self) {
        self.state.cancelled.store(true, Ordering::SeqCst);
        self.state.woken.notify_waiters();
        let inside = lock(&self.state.inside);
        if self.state.kick(&inside) {
            drop(inside);
            // Again and again until the call returns: the first signal may
            // have come before the thread entered the system call.
            watchdog().watch(&self.state, None);
        }
    }

    /// As [`cancel`](CancelHandle::cancel), with `raised` as the exception
    /// `check-signals` reports.
    pub fn cancel_with(&self, raised: Raised) {
        *lock(&self.state.raised) = raised;
        self.cancel();
    }

    /// Whether the store is cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.state.is_cancelled()
    }

    /// Lifts the cancellation: later calls are made again and
    /// `check-signals` no longer raises for it.
    pub fn reset(&self) {
        self.state.cancelled.store(false, Ordering::SeqCst);
    }
}

/// The one watchdog thread: signals calls past their cap, and cancelled
/// calls until they return.
struct Watchdog {
    states: Mutex<Vec<Weak<CallState>>>,
    wake: Condvar,
    /// When the watchdog wakes next, in ns since `epoch` (`u64::MAX`: not
    /// before it is notified).
    next_wake: AtomicU64,
    epoch: Instant,
}

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let dog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            states: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            next_wake: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
        }));
        let spawned = std::thread::Builder::new()
            .name("nativesock-watchdog".into())
            .spawn(move || dog.run());
        if let Err(e) = spawned {
            tracing::error!("failed to start the nativesock watchdog: {e}");
        }
        dog
    })
}

impl Watchdog {
    fn ns(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Makes sure the watchdog looks at `state` by `by` (now, for `None`).
    fn watch(&self, state: &Arc<CallState>, by: Option<Instant>) {
        let by = self.ns(by.unwrap_or_else(Instant::now));
        // Under the lock `next_wake` is exact: the watchdog changes it only
        // while it holds the lock, and it is waiting whenever we hold it.
        let mut states = lock(&self.states);
        if !state.watched.swap(true, Ordering::SeqCst) {
            states.push(Arc::downgrade(state));
        }
        if by < self.next_wake.load(Ordering::SeqCst) {
            self.next_wake.store(by, Ordering::SeqCst);
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        let mut states = lock(&self.states);
        loop {
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            states.retain(|weak| {
                let Some(state) = weak.upgrade() else {
                    return false;
                };
                let mut inside = lock(&state.inside);
                if inside.thread.is_none() {
                    return true;
                }
                let due = inside.deadline.is_some_and(|d| d <= now);
                if due {
                    inside.timed_out = true;
                }
                let at = if due || state.is_cancelled() {
                    state.kick(&inside);
                    Some(now + KICK_INTERVAL)
                } else {
                    // A call with no cap and no cancel needs no visit.
                    inside.deadline
                };
                if let Some(at) = at {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
                true
            });
            self.next_wake
                .store(next.map_or(u64::MAX, |n| self.ns(n)), Ordering::SeqCst);
            states = match next {
                None => self.wake.wait(states).unwrap_or_else(|e| e.into_inner()),
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    self.wake
                        .wait_timeout(states, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}
