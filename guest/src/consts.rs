//! The host's constants (`AF_*`, `SOCK_*`, errno names...), read from the
//! host at run time, so that a guest compiled once is right on whatever OS
//! runs it.
//!
//! Each name is asked for once (`native::constant`) and cached: a socket
//! needs about a dozen, and copying the host's whole table (some 400 names)
//! into a new store's memory would cost more than the rest of its set-up.
//! Only [`errno_names`] needs the whole table, read on first use.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// A value no host constant has: comparisons against a constant the host
/// lacks are then simply false.
pub const MISSING: i64 = i64::MIN;

/// FNV-1a: constant names are short, and SipHash dominated the lookups of
/// a hot path such as `getsockname` (no untrusted keys here).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// The whole table, for [`errno_names`].
#[cfg(not(test))]
fn table() -> &'static FnvMap<String, i64> {
    static TABLE: OnceLock<FnvMap<String, i64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        crate::bindings::nativesock::socket::native::constants()
            .into_iter()
            .collect()
    })
}

/// The host's value of constant `name`, if it has one: asked once per name.
#[cfg(not(test))]
pub fn get(name: &str) -> Option<i64> {
    use std::cell::RefCell;
    thread_local! {
        static CACHE: RefCell<FnvMap<Box<str>, Option<i64>>> = RefCell::default();
    }
    if let Some(value) = CACHE.with(|c| c.borrow().get(name).copied()) {
        return value;
    }
    let value = crate::bindings::nativesock::socket::native::constant(name);
    CACHE.with(|c| c.borrow_mut().insert(name.into(), value));
    value
}

/// The host's value of constant `name`, if it has one.
#[cfg(test)]
pub fn get(name: &str) -> Option<i64> {
    table().get(name).copied()
}

/// Native unit tests have no host: a Linux (x86-64) excerpt of its table.
#[cfg(test)]
fn table() -> &'static FnvMap<String, i64> {
    static TABLE: OnceLock<FnvMap<String, i64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        TEST_LINUX
            .iter()
            .map(|(name, value)| (name.to_string(), *value))
            .collect()
    })
}

#[cfg(test)]
const TEST_LINUX: &[(&str, i64)] = &[
    ("AF_UNSPEC", 0),
    ("AF_UNIX", 1),
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("AF_VSOCK", 40),
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("SOCK_NONBLOCK", 0o4000),
    ("SOCK_CLOEXEC", 0o2000000),
    ("SOL_SOCKET", 1),
    ("SO_ERROR", 4),
    ("SO_TYPE", 3),
    ("SO_PROTOCOL", 38),
    ("SOMAXCONN", 4096),
    ("POLLIN", 1),
    ("POLLPRI", 2),
    ("POLLOUT", 4),
    ("POLLERR", 8),
    ("POLLHUP", 16),
    ("POLLNVAL", 32),
    ("POLLRDNORM", 64),
    ("POLLRDBAND", 128),
    ("POLLWRNORM", 256),
    ("POLLWRBAND", 512),
    ("FD_SETSIZE", 1024),
    ("EPERM", 1),
    ("ENOENT", 2),
    ("ESRCH", 3),
    ("EINTR", 4),
    ("EBADF", 9),
    ("ECHILD", 10),
    ("EAGAIN", 11),
    ("EWOULDBLOCK", 11),
    ("EACCES", 13),
    ("EEXIST", 17),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("EPIPE", 32),
    ("ENOTSOCK", 88),
    ("ENOPROTOOPT", 92),
    ("EAFNOSUPPORT", 97),
    ("EADDRINUSE", 98),
    ("ECONNABORTED", 103),
    ("ECONNRESET", 104),
    ("EISCONN", 106),
    ("ENOTCONN", 107),
    ("ESHUTDOWN", 108),
    ("ETIMEDOUT", 110),
    ("ECONNREFUSED", 111),
    ("EHOSTUNREACH", 113),
    ("EALREADY", 114),
    ("EINPROGRESS", 115),
    ("EAI_SYSTEM", -11),
];

/// The host's value of constant `name` as a C int, or `i32::MIN` (which no
/// errno, family or option has) when the host has no such constant.
pub fn c(name: &str) -> i32 {
    get(name)
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(i32::MIN)
}

/// The errno names whose value is `errno`, in the host's table.
pub fn errno_names(errno: i32) -> impl Iterator<Item = &'static str> {
    table()
        .iter()
        .filter(move |(name, value)| {
            name.starts_with('E') && !name.starts_with("EAI_") && **value == i64::from(errno)
        })
        .map(|(name, _)| name.as_str())
}
