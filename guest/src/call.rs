//! `sock_call_ex` and `internal_select` (3.11's `Modules/socketmodule.c`,
//! L728-963): the one loop every blocking socket operation runs through.
//!
//! - With a timeout (`> 0`) the fd is non-blocking: poll first, with a
//!   deadline fixed at the *first* poll and never reset, then make the call.
//! - Without one, make the call directly, except for `connect`, which polls
//!   even in blocking mode (the connection carries on asynchronously after
//!   an interrupted `connect()`).
//! - PEP 475: an `EINTR` from `poll` or from the call runs the signal
//!   handlers (`native::check_signals`); if one raises, that exception
//!   leaves the call, otherwise the call is retried (poll with the time
//!   that is left).
//! - A spurious `EWOULDBLOCK`/`EAGAIN` after a poll said "ready" is retried
//!   while the socket has a timeout (the "false positive" at L946).

use crate::bindings::exports::nativesock::socket::socket::Error;
use crate::bindings::nativesock::socket::native;
use crate::consts;
use crate::error::{self, os_error, timed_out};
use crate::timeout;

/// Why a [`sock_call_ex`] did not succeed. CPython distinguishes these
/// through `*err` and the exception it set; `connect_ex` needs them apart.
#[derive(Debug)]
pub enum Failure {
    /// The call failed with this errno (`s->errorhandler()`).
    Errno(i32),
    /// `poll` itself failed with this errno, not `EINTR` (L901: the
    /// exception is set even in the `err` variant).
    PollFailed(i32),
    /// The deadline passed: `TimeoutError("timed out")`, or
    /// `SOCK_TIMEOUT_ERR` for `connect_ex`.
    TimedOut,
    /// A signal handler raised this exception.
    Raised(Error),
}

impl Failure {
    /// The exception CPython raises in the raising variant (`err == NULL`).
    pub fn into_error(self) -> Error {
        match self {
            Failure::Errno(e) | Failure::PollFailed(e) => os_error(e),
            Failure::TimedOut => timed_out(),
            Failure::Raised(e) => e,
        }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Error {
        f.into_error()
    }
}

/// `PyErr_CheckSignals()`: runs the embedder's handlers; `Err` when one raised.
pub fn check_signals() -> Result<(), Failure> {
    native::check_signals().map_err(|r| Failure::Raised(error::raised(r)))
}

/// What [`sock_call_ex`] needs from the world besides the call itself, so
/// that the loop can be unit-tested natively against a scripted fake.
pub trait Env {
    /// `poll()` on one fd: `revents`, 0 on timeout.
    fn poll(&mut self, fd: i32, events: i16, timeout_ms: i32) -> Result<i16, i32>;
    /// The monotonic clock, in ns.
    fn now(&mut self) -> i64;
    /// `PyErr_CheckSignals()`.
    fn check_signals(&mut self) -> Result<(), Failure>;
    /// A host constant (`EINTR`, `POLLOUT`...), `i32::MIN` when missing.
    fn c(&self, name: &str) -> i32;
}

/// The real host.
pub struct Host;

impl Env for Host {
    fn poll(&mut self, fd: i32, events: i16, timeout_ms: i32) -> Result<i16, i32> {
        native::poll(fd, events, timeout_ms)
    }
    fn now(&mut self) -> i64 {
        i64::try_from(native::monotonic_ns()).unwrap_or(i64::MAX)
    }
    fn check_signals(&mut self) -> Result<(), Failure> {
        check_signals()
    }
    fn c(&self, name: &str) -> i32 {
        consts::c(name)
    }
}

/// What `internal_select` reports.
enum Select {
    Ready,
    TimedOut,
    Failed(i32),
}

/// `internal_select(s, writing, interval, connect)` with `poll()`.
fn internal_select(
    env: &mut impl Env,
    fd: i32,
    writing: bool,
    interval: i64,
    connect: bool,
) -> Select {
    // "Guard against closed socket" (L746): no poll on fd -1; the call that
    // follows then fails with EBADF (testSendAfterClose).
    if fd == -1 {
        return Select::Ready;
    }
    let mut events = if writing {
        env.c("POLLOUT")
    } else {
        env.c("POLLIN")
    };
    if connect {
        // "On POSIX, the socket becomes writable on connection success or
        // on connection failure" (L760): POLLERR is asked for anyway.
        events |= env.c("POLLERR");
    }
    match env.poll(fd, events as i16, timeout::poll_ms(interval)) {
        Ok(0) => Select::TimedOut,
        Ok(_) => Select::Ready,
        Err(e) => Select::Failed(e),
    }
}

/// `sock_call_ex(s, writing, sock_func, data, connect, err, timeout)` on the host.
///
/// `fd` and `sock_timeout` are the socket's `sock_fd` and `sock_timeout`;
/// `timeout` is the budget for this call (the socket's timeout, or what is
/// left of `sendall`'s). `func` is `sock_func`: one syscall on the fd,
/// `Err(errno)` on failure.
pub fn sock_call_ex<T>(
    fd: i32,
    sock_timeout: i64,
    writing: bool,
    connect: bool,
    timeout: i64,
    func: impl FnMut(i32) -> Result<T, i32>,
) -> Result<T, Failure> {
    sock_call_ex_in(&mut Host, fd, sock_timeout, writing, connect, timeout, func)
}

/// [`sock_call_ex`] in a given [`Env`].
pub fn sock_call_ex_in<T>(
    env: &mut impl Env,
    fd: i32,
    sock_timeout: i64,
    writing: bool,
    connect: bool,
    timeout: i64,
    mut func: impl FnMut(i32) -> Result<T, i32>,
) -> Result<T, Failure> {
    let eintr = env.c("EINTR");
    let has_timeout = timeout > 0;
    let mut deadline: Option<i64> = None;

    // Outer loop: retry poll after EINTR, or poll + call after a false positive.
    loop {
        // "For connect(), poll even for blocking socket." (L859)
        if has_timeout || connect {
            let res = if has_timeout {
                let interval = match deadline {
                    // Recompute what is left: the deadline is never reset, so
                    // retries after EINTR or EAGAIN share the one budget.
                    Some(d) => timeout::remaining(d, env.now()),
                    None => {
                        deadline = Some(timeout::deadline(env.now(), timeout));
                        timeout
                    }
                };
                if interval >= 0 {
                    internal_select(env, fd, writing, interval, connect)
                } else {
                    // Already past the deadline: timed out without polling
                    // (an interval of exactly 0 still polls with 0 ms).
                    Select::TimedOut
                }
            } else {
                internal_select(env, fd, writing, timeout, connect)
            };
            match res {
                Select::Ready => {}
                Select::TimedOut => return Err(Failure::TimedOut),
                Select::Failed(e) if e == eintr => {
                    env.check_signals()?;
                    continue;
                }
                Select::Failed(e) => return Err(Failure::PollFailed(e)),
            }
        }

        // Inner loop: retry the call itself after EINTR.
        let errno = loop {
            match func(fd) {
                Ok(v) => return Ok(v),
                Err(e) if e == eintr => env.check_signals()?,
                Err(e) => break e,
            }
        };

        // L946 tests the socket's own timeout here, not `timeout`.
        if sock_timeout > 0 && (errno == env.c("EAGAIN") || errno == env.c("EWOULDBLOCK")) {
            continue;
        }
        return Err(Failure::Errno(errno));
    }
}

/// `SOCK_TIMEOUT_ERR`: `EWOULDBLOCK` on POSIX (11 on Linux), what
/// `connect_ex` returns on timeout.
pub fn sock_timeout_err() -> i32 {
    consts::get("EWOULDBLOCK")
        .or_else(|| consts::get("EAGAIN"))
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(11)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::error::plain;

    const MS: i64 = 1_000_000;

    /// A scripted host: each poll returns the next scripted result after
    /// advancing the clock by the scripted amount.
    #[derive(Default)]
    struct Fake {
        clock: i64,
        polls: VecDeque<(Result<i16, i32>, i64)>,
        poll_log: Vec<(i16, i32)>,
        signals: VecDeque<Result<(), Failure>>,
        signal_checks: usize,
    }

    impl Env for Fake {
        fn poll(&mut self, _fd: i32, events: i16, timeout_ms: i32) -> Result<i16, i32> {
            self.poll_log.push((events, timeout_ms));
            let (res, advance) = self.polls.pop_front().expect("unexpected poll");
            self.clock += advance;
            res
        }
        fn now(&mut self) -> i64 {
            self.clock
        }
        fn check_signals(&mut self) -> Result<(), Failure> {
            self.signal_checks += 1;
            self.signals.pop_front().unwrap_or(Ok(()))
        }
        fn c(&self, name: &str) -> i32 {
            match name {
                "EINTR" => 4,
                "EAGAIN" | "EWOULDBLOCK" => 11,
                "POLLIN" => 1,
                "POLLOUT" => 4,
                "POLLERR" => 8,
                _ => i32::MIN,
            }
        }
    }

    /// A `sock_func` that returns the scripted results in order.
    fn script<T: Clone>(results: Vec<Result<T, i32>>) -> impl FnMut(i32) -> Result<T, i32> {
        let mut q: VecDeque<_> = results.into();
        move |_fd| q.pop_front().expect("unexpected call")
    }

    fn errno_of(r: Result<(), Failure>) -> Option<i32> {
        match r {
            Err(Failure::Errno(e)) => Some(e),
            _ => None,
        }
    }

    #[test]
    fn blocking_calls_do_not_poll() {
        let mut env = Fake::default();
        let r = sock_call_ex_in(
            &mut env,
            3,
            timeout::NONE,
            false,
            false,
            timeout::NONE,
            script(vec![Err(11)]),
        );
        assert_eq!(errno_of(r), Some(11));
        assert!(env.poll_log.is_empty());
    }

    #[test]
    fn non_blocking_would_block_is_raised() {
        let mut env = Fake::default();
        let r = sock_call_ex_in(&mut env, 3, 0, false, false, 0, script(vec![Err(11)]));
        assert_eq!(errno_of(r), Some(11));
        assert!(env.poll_log.is_empty());
    }

    #[test]
    fn timeout_polls_with_ceiling_ms_then_times_out() {
        let mut env = Fake::default();
        env.polls.push_back((Ok(0), 1500 * MS));
        let timeout = 1_500_000_001; // 1.500000001 s -> 1501 ms
        let r = sock_call_ex_in(
            &mut env,
            3,
            timeout,
            false,
            false,
            timeout,
            script::<()>(vec![]),
        );
        assert!(matches!(r, Err(Failure::TimedOut)));
        assert_eq!(env.poll_log, vec![(1, 1501)]);
    }

    #[test]
    fn eintr_in_poll_keeps_the_first_deadline() {
        let mut env = Fake::default();
        env.polls.push_back((Err(4), 300 * MS));
        env.polls.push_back((Ok(0), 700 * MS));
        let t = 1000 * MS;
        let r = sock_call_ex_in(&mut env, 3, t, true, false, t, script::<()>(vec![]));
        assert!(matches!(r, Err(Failure::TimedOut)));
        assert_eq!(env.poll_log, vec![(4, 1000), (4, 700)]);
        assert_eq!(env.signal_checks, 1);
    }

    #[test]
    fn a_raising_handler_ends_the_call() {
        let mut env = Fake::default();
        env.polls.push_back((Err(4), 0));
        env.signals.push_back(Err(Failure::Raised(plain(
            "ZeroDivisionError",
            "division by zero",
        ))));
        let t = 1000 * MS;
        let r = sock_call_ex_in(&mut env, 3, t, false, false, t, script::<()>(vec![]));
        match r {
            Err(Failure::Raised(e)) => assert_eq!(e.exception, "ZeroDivisionError"),
            _ => panic!("expected the handler's exception"),
        }
    }

    #[test]
    fn false_positive_polls_again_with_what_is_left() {
        let mut env = Fake::default();
        env.polls.push_back((Ok(1), 400 * MS));
        env.polls.push_back((Ok(1), 100 * MS));
        let t = 1000 * MS;
        let r = sock_call_ex_in(
            &mut env,
            3,
            t,
            false,
            false,
            t,
            script(vec![Err(11), Ok(7u32)]),
        );
        assert_eq!(r.ok(), Some(7));
        assert_eq!(env.poll_log, vec![(1, 1000), (1, 600)]);
    }

    #[test]
    fn a_passed_deadline_times_out_without_polling() {
        let mut env = Fake::default();
        env.polls.push_back((Ok(1), 1200 * MS));
        let t = 1000 * MS;
        let r = sock_call_ex_in(&mut env, 3, t, false, false, t, script::<()>(vec![Err(11)]));
        assert!(matches!(r, Err(Failure::TimedOut)));
        assert_eq!(env.poll_log.len(), 1);
    }

    #[test]
    fn exactly_zero_left_still_polls() {
        let mut env = Fake::default();
        env.polls.push_back((Ok(1), 1000 * MS));
        env.polls.push_back((Ok(0), 0));
        let t = 1000 * MS;
        let r = sock_call_ex_in(&mut env, 3, t, false, false, t, script::<()>(vec![Err(11)]));
        assert!(matches!(r, Err(Failure::TimedOut)));
        assert_eq!(env.poll_log, vec![(1, 1000), (1, 0)]);
    }

    #[test]
    fn eintr_from_the_call_is_retried_after_the_handlers() {
        let mut env = Fake::default();
        let r = sock_call_ex_in(
            &mut env,
            3,
            timeout::NONE,
            true,
            false,
            timeout::NONE,
            script(vec![Err(4), Err(4), Ok(())]),
        );
        assert!(r.is_ok());
        assert_eq!(env.signal_checks, 2);
    }

    #[test]
    fn blocking_connect_polls_for_ever_with_pollerr() {
        let mut env = Fake::default();
        env.polls.push_back((Ok(4), 0));
        let r = sock_call_ex_in(
            &mut env,
            3,
            timeout::NONE,
            true,
            true,
            timeout::NONE,
            script(vec![Err(111)]),
        );
        assert_eq!(errno_of(r), Some(111));
        assert_eq!(env.poll_log, vec![(4 | 8, -1)]);
    }

    #[test]
    fn closed_fd_skips_poll() {
        let mut env = Fake::default();
        let t = 1000 * MS;
        let r = sock_call_ex_in(&mut env, -1, t, true, false, t, script::<()>(vec![Err(9)]));
        assert_eq!(errno_of(r), Some(9));
        assert!(env.poll_log.is_empty());
    }

    #[test]
    fn poll_failure_is_reported() {
        let mut env = Fake::default();
        env.polls.push_back((Err(12), 0));
        let t = 1000 * MS;
        let r = sock_call_ex_in(&mut env, 3, t, true, false, t, script::<()>(vec![]));
        assert!(matches!(r, Err(Failure::PollFailed(12))));
    }

    #[test]
    fn the_false_positive_rule_uses_the_sockets_timeout() {
        // sendall passes what is left as `timeout` but the socket's own
        // timeout decides whether EAGAIN is retried.
        let mut env = Fake::default();
        let r = sock_call_ex_in(&mut env, 3, 0, true, false, 0, script::<()>(vec![Err(11)]));
        assert_eq!(errno_of(r), Some(11));
    }
}
