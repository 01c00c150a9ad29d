//! A store's fd table: the fds it owns (and nothing else can be named),
//! which of them have `SO_PASSCRED`/`SO_PASSPIDFD` on, and copies of the
//! ones in flight in `SCM_RIGHTS` messages. Dropping it closes them all,
//! in-flight sockets included.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::sys::{self, Errno};

/// The fds one store owns, by number (the host's own numbers, which the
/// guest sees).
#[derive(Default)]
pub(crate) struct FdTable {
    owned: HashMap<RawFd, OwnedFd>,
    /// Owned fds on which the guest turned on `SO_PASSCRED` or
    /// `SO_PASSPIDFD`: an unnamed unix socket with either autobinds to an
    /// abstract name when it connects or sends.
    pub(crate) passcred: HashSet<RawFd>,
    /// Copies of the fds the store sent with `SCM_RIGHTS` that it has not
    /// received back.
    pub(crate) parked: Parked,
}

impl FdTable {
    /// The fd, if the store owns it; `EBADF` otherwise, whatever the
    /// process has open under that number.
    pub(crate) fn get(&self, n: RawFd) -> Result<BorrowedFd<'_>, Errno> {
        self.owned.get(&n).map(|f| f.as_fd()).ok_or(libc::EBADF)
    }

    /// Whether the store owns `n`.
    pub(crate) fn contains(&self, n: RawFd) -> bool {
        self.owned.contains_key(&n)
    }

    /// Adds `fd` under its number, which it returns.
    pub(crate) fn insert(&mut self, fd: OwnedFd) -> RawFd {
        let n = fd.as_raw_fd();
        if let Some(stale) = self.owned.insert(n, fd) {
            // The kernel handed out a number this table still holds, so the
            // old entry was closed behind the store's back and the number
            // now belongs to the new fd: closing the stale one would close
            // the new socket.
            tracing::warn!(
                fd = n,
                "fd was closed outside its store; forgetting the stale entry"
            );
            std::mem::forget(stale);
        }
        n
    }

    /// Takes `n` out of the table (the guest can no longer name it).
    pub(crate) fn remove(&mut self, n: RawFd) -> Option<OwnedFd> {
        self.passcred.remove(&n);
        self.owned.remove(&n)
    }

    /// How many fds count against the open-socket cap: those owned and
    /// those in flight.
    pub(crate) fn held(&self) -> usize {
        self.owned.len() + self.parked.len()
    }

    /// The owned numbers, in increasing order.
    pub(crate) fn numbers(&self) -> Vec<RawFd> {
        let mut fds: Vec<RawFd> = self.owned.keys().copied().collect();
        fds.sort_unstable();
        fds
    }

    /// The fds among `passed` (owned) that have no copy in flight yet, one
    /// per socket, with their identity.
    pub(crate) fn to_park(&self, passed: &[RawFd]) -> Vec<((u64, u64), RawFd)> {
        self.parked.to_park(passed, &self.owned)
    }
}

impl Drop for FdTable {
    fn drop(&mut self) {
        // Every socket the store holds, and every one in flight in the
        // queues of the unix sockets it holds (fds it sent to itself, or
        // that were sent to it): a socket in flight lives as long as the
        // message carrying it, so without this a guest could leave
        // sockets (listeners too) alive after the store, even after the
        // host process, until the kernel's unix garbage collector ran.
        let mut all: Vec<OwnedFd> = self.owned.drain().map(|(_, fd)| fd).collect();
        all.extend(self.parked.drain());
        let mut i = 0;
        while let Some(fd) = all.get(i) {
            let inflight = sys::drain_rights(fd.as_fd());
            all.extend(inflight);
            i += 1;
        }
        // Closing a socket whose `SO_LINGER` is on with a time blocks until
        // the data is sent or the time is up, and the guest chose the time:
        // the store's last closes must not hang the host, so such sockets
        // close as by default (the kernel still sends what is queued).
        for fd in &all {
            sys::linger_off(fd.as_fd());
        }
        // The `OwnedFd`s close as `all` drops.
    }
}

/// Copies of the fds a store sent with `SCM_RIGHTS` and has not received
/// back, by socket identity (`st_dev`, `st_ino`), with how many sends of
/// each are still in flight. They keep `NativesockCtx::drop` able to reach
/// every socket in flight (to drain its queue and turn its linger off),
/// and they count against the store's open-socket cap, so parking sockets
/// in messages cannot get round it.
#[derive(Default)]
pub(crate) struct Parked {
    pub(crate) copies: HashMap<(u64, u64), (OwnedFd, usize)>,
}

impl Parked {
    pub(crate) fn len(&self) -> usize {
        self.copies.len()
    }

    /// The fds among `passed` (owned by the store, in `fds`) that have no
    /// copy yet, one per socket, with their identity.
    fn to_park(&self, passed: &[RawFd], fds: &HashMap<RawFd, OwnedFd>) -> Vec<((u64, u64), RawFd)> {
        let mut new: Vec<((u64, u64), RawFd)> = Vec::new();
        for &n in passed {
            let Some(key) = fds.get(&n).and_then(|fd| identity(fd.as_fd())) else {
                continue;
            };
            if !self.copies.contains_key(&key) && !new.iter().any(|(k, _)| *k == key) {
                new.push((key, n));
            }
        }
        new
    }

    pub(crate) fn park(&mut self, key: (u64, u64), copy: OwnedFd) {
        self.copies.entry(key).or_insert((copy, 0));
    }

    /// Counts one more send in flight for each of `passed` that has a copy.
    pub(crate) fn count(&mut self, passed: &[RawFd]) {
        for &n in passed {
            // SAFETY: `n` is one of the store's fds (checked by `sendmsg`),
            // open for the duration of this borrow.
            let fd = unsafe { BorrowedFd::borrow_raw(n) };
            if let Some(key) = identity(fd)
                && let Some((_, sends)) = self.copies.get_mut(&key)
            {
                *sends += 1;
            }
        }
    }

    /// One send of `fd`'s socket arrived back: the last one drops the copy.
    pub(crate) fn received(&mut self, fd: BorrowedFd<'_>) {
        if let Some(key) = identity(fd)
            && let Some((_, sends)) = self.copies.get_mut(&key)
        {
            *sends = sends.saturating_sub(1);
            if *sends == 0 {
                self.copies.remove(&key);
            }
        }
    }

    fn drain(&mut self) -> impl Iterator<Item = OwnedFd> + '_ {
        self.copies.drain().map(|(_, (fd, _))| fd)
    }
}

/// A socket's identity: its `st_dev` and `st_ino`.
fn identity(fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    let stat = rustix::fs::fstat(fd).ok()?;
    Some((stat.st_dev, stat.st_ino))
}
