//! The `select` module's waits (`Modules/selectmodule.c`): `select.select`
//! and `select.poll().poll()`, on the host's `poll-fds`.
//!
//! `select()` is emulated with `poll()` as the kernel itself computes it
//! (`fs/select.c`): an fd is readable when `POLLIN_SET` (`POLLRDNORM |
//! POLLRDBAND | POLLIN | POLLHUP | POLLERR`) fires, writable on
//! `POLLOUT_SET` (`POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR`), and
//! exceptional on `POLLPRI`; an fd that is not open is `EBADF`.
//!
//! Both retry after a signal as CPython does (PEP 475): the handlers run
//! (`PyErr_CheckSignals`), and when none raised the wait goes on with the
//! time left before the deadline fixed at the start.

use crate::bindings::exports::nativesock::socket::socket::Value;
use crate::bindings::nativesock::socket::native::{self, Pollfd};
use crate::call::{self, Failure};
use crate::consts;
use crate::conv;
use crate::error::{PyResult, os_error, overflow_error, type_error, value_error};
use crate::timeout;

/// What a wait needs from the world, so that the loops can be tested
/// natively against a scripted fake.
pub trait Env {
    /// `poll(fds, nfds, timeout_ms)`: the `revents` of each entry.
    fn poll(&mut self, fds: &[Pollfd], timeout_ms: i32) -> Result<Vec<i16>, i32>;
    /// The monotonic clock, in ns.
    fn now(&mut self) -> i64;
    /// `PyErr_CheckSignals()`.
    fn check_signals(&mut self) -> Result<(), Failure>;
}

/// A host `POLL*` constant, 0 when missing.
fn c(name: &str) -> i16 {
    i16::try_from(consts::c(name)).unwrap_or(0)
}

/// The real host.
pub struct Host;

impl Env for Host {
    fn poll(&mut self, fds: &[Pollfd], timeout_ms: i32) -> Result<Vec<i16>, i32> {
        native::poll_fds(fds, timeout_ms)
    }
    fn now(&mut self) -> i64 {
        i64::try_from(native::monotonic_ns()).unwrap_or(i64::MAX)
    }
    fn check_signals(&mut self) -> Result<(), Failure> {
        call::check_signals()
    }
}

/// `_PyTime_FromObject` for a wait's timeout, its `TypeError` reworded as
/// the `select` module words it.
fn timeout_object(v: &Value, unit_to_ns: i64, type_message: &str) -> PyResult<i64> {
    timeout::from_object(v, unit_to_ns).map_err(|e| {
        if e.exception == "TypeError" {
            type_error(type_message)
        } else {
            e
        }
    })
}

/// The `poll` timeout for another wait: what is left before `deadline`
/// (`_PyDeadline_Get`, rounded up to ms), `None` once it passed; without a
/// deadline, `ms` again.
fn wait_left(env: &mut impl Env, deadline: Option<i64>, ms: i32) -> Option<i32> {
    let Some(deadline) = deadline else {
        return Some(ms);
    };
    let left = timeout::remaining(deadline, env.now());
    (left >= 0).then(|| timeout::poll_ms(left))
}

/// `PyObject_AsFileDescriptor` for what a binding passes: an int (or the
/// int `fileno()` returned) through `_PyLong_AsInt`, then "not negative".
pub fn file_descriptor(fd: &Value) -> PyResult<i32> {
    let fd = match fd {
        Value::Int(_) | Value::BigInt(_) | Value::Boolean(_) => conv::as_int(fd)?,
        _ => {
            return Err(type_error(
                "argument must be an int, or have a fileno() method.",
            ));
        }
    };
    if fd < 0 {
        return Err(value_error(format!(
            "file descriptor cannot be a negative integer ({fd})"
        )));
    }
    Ok(fd)
}

/// `seq2set`: the fds of one list, in order, each below `FD_SETSIZE`, at
/// most `FD_SETSIZE` of them.
fn seq2set(list: &[Value], fd_setsize: i64) -> PyResult<Vec<i32>> {
    let mut fds = Vec::with_capacity(list.len());
    for v in list {
        let fd = file_descriptor(v)?;
        // `_PyIsSelectable_fd`.
        if i64::from(fd) >= fd_setsize {
            return Err(value_error("filedescriptor out of range in select()"));
        }
        if fds.len() as i64 >= fd_setsize {
            return Err(value_error("too many file descriptors in select()"));
        }
        fds.push(fd);
    }
    Ok(fds)
}

/// `select.select(rlist, wlist, xlist, timeout)`: the indices of the ready
/// entries of each list.
pub fn select(
    env: &mut impl Env,
    lists: [&[Value]; 3],
    timeout: Option<&Value>,
) -> PyResult<[Vec<u32>; 3]> {
    let timeout = match timeout {
        None | Some(Value::None) => None,
        Some(v) => {
            let ns = timeout_object(v, timeout::SEC_TO_NS, "timeout must be a float or None")?;
            // `_PyTime_AsTimeval(ROUND_TIMEOUT)` then `tv_sec < 0`: any
            // negative time rounds away from zero to a negative second.
            if ns < 0 {
                return Err(value_error("timeout must be non-negative"));
            }
            Some(ns)
        }
    };
    let fd_setsize = match consts::c("FD_SETSIZE") {
        n if n > 0 => i64::from(n),
        _ => 1024,
    };
    let sets = [
        seq2set(lists[0], fd_setsize)?,
        seq2set(lists[1], fd_setsize)?,
        seq2set(lists[2], fd_setsize)?,
    ];
    let want = [
        c("POLLIN") | c("POLLRDNORM") | c("POLLRDBAND"),
        c("POLLOUT") | c("POLLWRNORM") | c("POLLWRBAND"),
        c("POLLPRI"),
    ];
    let fired = [
        want[0] | c("POLLHUP") | c("POLLERR"),
        want[1] | c("POLLERR"),
        want[2],
    ];
    let nval = c("POLLNVAL");
    // One `pollfd` per distinct fd, asking for the events of every set it
    // is in; `slots[k][i]` is the `pollfd` of entry `i` of list `k`.
    let mut pollfds: Vec<Pollfd> = Vec::new();
    let slots: [Vec<usize>; 3] = std::array::from_fn(|k| {
        sets[k]
            .iter()
            .map(|&fd| match pollfds.iter().position(|p| p.fd == fd) {
                Some(slot) => {
                    pollfds[slot].events |= want[k];
                    slot
                }
                None => {
                    pollfds.push(Pollfd {
                        fd,
                        events: want[k],
                    });
                    pollfds.len() - 1
                }
            })
            .collect()
    });
    let deadline = timeout.map(|t| timeout::deadline(env.now(), t));
    let mut ms = timeout.map_or(-1, timeout::poll_ms);
    loop {
        let revents = match env.poll(&pollfds, ms) {
            Ok(revents) => revents,
            Err(e) if e == consts::c("EINTR") => {
                env.check_signals().map_err(Failure::into_error)?;
                match wait_left(env, deadline, ms) {
                    Some(left) => ms = left,
                    // bpo-35310: nothing is ready.
                    None => return Ok([Vec::new(), Vec::new(), Vec::new()]),
                }
                continue;
            }
            Err(e) => return Err(os_error(e)),
        };
        if revents.iter().any(|&r| r & nval != 0) {
            return Err(os_error(consts::c("EBADF")));
        }
        let result: [Vec<u32>; 3] = std::array::from_fn(|k| {
            (0..slots[k].len())
                .filter(|&i| revents[slots[k][i]] & fired[k] != 0)
                .map(|i| i as u32)
                .collect()
        });
        let nothing = revents.iter().all(|&r| r == 0);
        if nothing || result.iter().any(|r| !r.is_empty()) {
            return Ok(result);
        }
        // poll() woke for an event select() does not count (`POLLHUP` on an
        // fd only in wlist): select() would go on waiting on the others.
        for (p, &r) in pollfds.iter_mut().zip(&revents) {
            if r != 0 {
                p.fd = -1;
            }
        }
        match wait_left(env, deadline, ms) {
            Some(left) => ms = left,
            None => return Ok(result),
        }
    }
}

/// `select.poll().poll(timeout)` over the registered `(fd, eventmask)`s:
/// the `(fd, revents)` of each entry with events, in order.
pub fn poll(
    env: &mut impl Env,
    fds: &[(i32, u16)],
    timeout: Option<&Value>,
) -> PyResult<Vec<(i32, u16)>> {
    let mut timeout_ns = -1;
    let mut ms = -1;
    if let Some(v) = timeout.filter(|v| !matches!(v, Value::None)) {
        timeout_ns = timeout_object(v, timeout::MS_TO_NS, "timeout must be an integer or None")?;
        ms = i32::try_from(timeout::as_ms_round_up(timeout_ns))
            .map_err(|_| overflow_error("timeout is too large"))?;
    }
    // A negative timeout waits for ever, as -1 (`INFTIM`).
    let mut ms = ms.max(-1);
    let deadline = (timeout_ns >= 0).then(|| timeout::deadline(env.now(), timeout_ns));
    let pollfds: Vec<Pollfd> = fds
        .iter()
        .map(|&(fd, events)| Pollfd {
            fd,
            events: events as i16,
        })
        .collect();
    let revents = loop {
        match env.poll(&pollfds, ms) {
            Ok(revents) => break revents,
            Err(e) if e == consts::c("EINTR") => {
                env.check_signals().map_err(Failure::into_error)?;
                match wait_left(env, deadline, ms) {
                    Some(left) => ms = left,
                    None => return Ok(Vec::new()),
                }
            }
            Err(e) => return Err(os_error(e)),
        }
    };
    Ok(fds
        .iter()
        .zip(revents)
        .filter(|&(_, r)| r != 0)
        .map(|(&(fd, _), r)| (fd, r as u16))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted host: each `poll` pops the next answer and records its
    /// timeout; the clock advances 10 ms per call.
    struct Fake {
        answers: Vec<Result<Vec<i16>, i32>>,
        timeouts: Vec<i32>,
        now: i64,
        signals: usize,
    }

    impl Fake {
        fn new(mut answers: Vec<Result<Vec<i16>, i32>>) -> Fake {
            answers.reverse();
            Fake {
                answers,
                timeouts: Vec::new(),
                now: 0,
                signals: 0,
            }
        }
    }

    impl Env for Fake {
        fn poll(&mut self, fds: &[Pollfd], timeout_ms: i32) -> Result<Vec<i16>, i32> {
            self.timeouts.push(timeout_ms);
            self.now += 10_000_000;
            let answer = self.answers.pop().expect("an answer");
            if let Ok(r) = &answer {
                assert_eq!(r.len(), fds.len());
            }
            answer
        }
        fn now(&mut self) -> i64 {
            self.now
        }
        fn check_signals(&mut self) -> Result<(), Failure> {
            self.signals += 1;
            Ok(())
        }
    }

    fn ints(fds: &[i64]) -> Vec<Value> {
        fds.iter().map(|&fd| Value::Int(fd)).collect()
    }

    #[test]
    fn select_maps_revents_as_the_kernel_does() {
        // fds 3 (read and write), 4 (write), 5 (except); 3 is readable by
        // POLLHUP, 4 writable, 5 quiet.
        let mut env = Fake::new(vec![Ok(vec![16, 4, 0])]);
        let (r, w, x) = (ints(&[3, 3]), ints(&[4, 3]), ints(&[5]));
        let got = select(&mut env, [&r, &w, &x], Some(&Value::Float(1.5))).unwrap();
        assert_eq!(got, [vec![0, 1], vec![0], vec![]]);
        assert_eq!(env.timeouts, [1500]);
    }

    #[test]
    fn select_retries_after_a_signal_with_the_time_left() {
        let mut env = Fake::new(vec![Err(4), Ok(vec![1])]);
        let r = ints(&[3]);
        let got = select(&mut env, [&r, &[], &[]], Some(&Value::Int(1))).unwrap();
        assert_eq!(got, [vec![0], vec![], vec![]]);
        assert_eq!(env.timeouts, [1000, 990]);
        assert_eq!(env.signals, 1);
    }

    #[test]
    fn select_ignores_a_hangup_it_does_not_count() {
        // POLLHUP on an fd only in wlist: select() goes on waiting without it.
        let mut env = Fake::new(vec![Ok(vec![16]), Ok(vec![0])]);
        let w = ints(&[3]);
        let got = select(&mut env, [&[], &w, &[]], None).unwrap();
        assert_eq!(got, [vec![], vec![], vec![]]);
        assert_eq!(env.timeouts, [-1, -1]);
    }

    #[test]
    fn select_checks_the_timeout_then_each_fd() {
        let err = |r: PyResult<[Vec<u32>; 3]>| {
            let e = r.unwrap_err();
            (e.exception, e.message)
        };
        let mut env = Fake::new(vec![]);
        let bad = vec![Value::Object("float".into())];
        assert_eq!(
            err(select(
                &mut env,
                [&bad, &[], &[]],
                Some(&Value::Str("x".into()))
            )),
            ("TypeError".into(), "timeout must be a float or None".into())
        );
        assert_eq!(
            err(select(
                &mut env,
                [&[], &[], &[]],
                Some(&Value::Float(-1e-10))
            )),
            ("ValueError".into(), "timeout must be non-negative".into())
        );
        assert_eq!(
            err(select(&mut env, [&bad, &[], &[]], None)),
            (
                "TypeError".into(),
                "argument must be an int, or have a fileno() method.".into()
            )
        );
        assert_eq!(
            err(select(&mut env, [&ints(&[-1]), &[], &[]], None)),
            (
                "ValueError".into(),
                "file descriptor cannot be a negative integer (-1)".into()
            )
        );
        assert_eq!(
            err(select(&mut env, [&ints(&[1024]), &[], &[]], None)),
            (
                "ValueError".into(),
                "filedescriptor out of range in select()".into()
            )
        );
        assert_eq!(
            err(select(&mut env, [&ints(&[0; 1025]), &[], &[]], None)),
            (
                "ValueError".into(),
                "too many file descriptors in select()".into()
            )
        );
        assert_eq!(
            err(select(&mut env, [&ints(&[1 << 31]), &[], &[]], None)),
            (
                "OverflowError".into(),
                "Python int too large to convert to C int".into()
            )
        );
    }

    #[test]
    fn poll_rounds_up_and_reports_entries_with_events() {
        let mut env = Fake::new(vec![Ok(vec![0, 5, 32])]);
        let got = poll(
            &mut env,
            &[(3, 1), (4, 5), (9, 1)],
            Some(&Value::Float(0.5)),
        )
        .unwrap();
        assert_eq!(got, [(4, 5), (9, 32)]);
        assert_eq!(env.timeouts, [1]);
        // A negative timeout waits for ever, also after a signal.
        let mut env = Fake::new(vec![Err(4), Ok(vec![0])]);
        poll(&mut env, &[(3, 1)], Some(&Value::Int(-5))).unwrap();
        assert_eq!(env.timeouts, [-1, -1]);
    }

    #[test]
    fn poll_timeout_errors_are_cpythons() {
        let mut env = Fake::new(vec![]);
        let err = |v: Value, env: &mut Fake| {
            let e = poll(env, &[], Some(&v)).unwrap_err();
            (e.exception, e.message)
        };
        assert_eq!(
            err(Value::Str("x".into()), &mut env),
            (
                "TypeError".into(),
                "timeout must be an integer or None".into()
            )
        );
        assert_eq!(
            err(Value::Int(1 << 31), &mut env),
            ("OverflowError".into(), "timeout is too large".into())
        );
        assert_eq!(
            err(Value::Int(-(1 << 40)), &mut env),
            ("OverflowError".into(), "timeout is too large".into())
        );
        assert_eq!(
            err(Value::BigInt("1".repeat(30)), &mut env),
            (
                "OverflowError".into(),
                "timestamp too large to convert to C _PyTime_t".into()
            )
        );
    }
}
