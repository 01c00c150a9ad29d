//! Python exceptions, as CPython would raise them.

use crate::bindings::exports::nativesock::socket::socket::{Error, ExceptionInfo};
use crate::bindings::nativesock::socket::native;
use crate::consts;

/// The result type of every socket method.
pub type PyResult<T> = Result<T, Error>;

/// CPython's `OSError.__new__` subclass choice (`Objects/exceptions.c`),
/// applied to the host's errno names.
fn os_error_class(errno: i32) -> &'static str {
    for name in consts::errno_names(errno) {
        let class = match name {
            "EAGAIN" | "EALREADY" | "EINPROGRESS" | "EWOULDBLOCK" => "BlockingIOError",
            "ECHILD" => "ChildProcessError",
            "EPIPE" | "ESHUTDOWN" => "BrokenPipeError",
            "ECONNABORTED" => "ConnectionAbortedError",
            "ECONNREFUSED" => "ConnectionRefusedError",
            "ECONNRESET" => "ConnectionResetError",
            "EEXIST" => "FileExistsError",
            "ENOENT" => "FileNotFoundError",
            "EISDIR" => "IsADirectoryError",
            "ENOTDIR" => "NotADirectoryError",
            "EINTR" => "InterruptedError",
            "EACCES" | "EPERM" | "ENOTCAPABLE" => "PermissionError",
            "ESRCH" => "ProcessLookupError",
            "ETIMEDOUT" => "TimeoutError",
            _ => continue,
        };
        return class;
    }
    "OSError"
}

/// `PyErr_SetFromErrno(PyExc_OSError)`: the subclass for `errno`, with
/// `args == (errno, strerror)` and `str == "[Errno N] strerror"`.
pub fn os_error(errno: i32) -> Error {
    let strerror = native::strerror(errno);
    Error {
        exception: os_error_class(errno).to_string(),
        errno: Some(errno),
        message: format!("[Errno {errno}] {strerror}"),
        strerror: Some(strerror),
        exceptions: Vec::new(),
    }
}

/// The host's value of errno `name` (`"EBADF"`), for comparisons.
pub fn errno(name: &str) -> i32 {
    consts::c(name)
}

/// An exception with only a message (`OSError("AF_UNIX path too long")`,
/// `TypeError(...)`): no errno.
pub fn plain(exception: &str, message: impl Into<String>) -> Error {
    Error {
        exception: exception.to_string(),
        errno: None,
        strerror: None,
        message: message.into(),
        exceptions: Vec::new(),
    }
}

/// `TypeError(message)`.
pub fn type_error(message: impl Into<String>) -> Error {
    plain("TypeError", message)
}

/// `ValueError(message)`.
pub fn value_error(message: impl Into<String>) -> Error {
    plain("ValueError", message)
}

/// `OverflowError(message)`.
pub fn overflow_error(message: impl Into<String>) -> Error {
    plain("OverflowError", message)
}

/// `OSError(message)` without an errno.
pub fn os_error_msg(message: impl Into<String>) -> Error {
    plain("OSError", message)
}

/// A socket timeout: `TimeoutError("timed out")`, errno None.
pub fn timed_out() -> Error {
    plain("TimeoutError", "timed out")
}

/// `socket.gaierror(code, message)`, `str == "[Errno code] message"`.
pub fn gaierror(code: i32, message: String) -> Error {
    Error {
        exception: "gaierror".to_string(),
        errno: Some(code),
        message: format!("[Errno {code}] {message}"),
        strerror: Some(message),
        exceptions: Vec::new(),
    }
}

/// `socket.herror(code, message)` (`set_herror`), `str == "[Errno code] message"`.
pub fn herror(code: i32, message: String) -> Error {
    Error {
        exception: "herror".to_string(),
        errno: Some(code),
        message: format!("[Errno {code}] {message}"),
        strerror: Some(message),
        exceptions: Vec::new(),
    }
}

/// A failed host database lookup: `herror`, or an OSError for an errno
/// (the host refusing the lookup).
pub fn from_host(e: native::HostError) -> Error {
    match e.errno {
        Some(errno) => signalled_os_error(errno),
        None => herror(e.code, e.message),
    }
}

/// `PyErr_SetFromErrno`: for `EINTR` the signal handlers run first, and an
/// exception one raises (`KeyboardInterrupt`, the host's `CancelledError`
/// for a lookup it cut short) is raised instead of `InterruptedError`.
pub fn signalled_os_error(errno: i32) -> Error {
    if errno == self::errno("EINTR")
        && let Err(r) = native::check_signals()
    {
        return raised(r);
    }
    os_error(errno)
}

/// `OSError(errno, strerror)` built by Python code (`raise error(errno, msg)`):
/// the subclass for the errno, `str == "[Errno N] msg"`. An errno of
/// `None` prints as `[Errno None] ...`, as Python does.
pub fn os_error_args(errno: Option<i32>, strerror: String) -> Error {
    let shown = errno.map_or_else(|| "None".to_string(), |e| e.to_string());
    Error {
        exception: errno.map_or("OSError", os_error_class).to_string(),
        errno,
        message: format!("[Errno {shown}] {strerror}"),
        strerror: Some(strerror),
        exceptions: Vec::new(),
    }
}

/// `ExceptionGroup(message, exceptions)`: `str` is
/// `message (N sub-exception[s])`, the sub-exceptions are kept in order.
pub fn exception_group(message: &str, exceptions: Vec<Error>) -> Error {
    let n = exceptions.len();
    let plural = if n == 1 { "" } else { "s" };
    Error {
        exception: "ExceptionGroup".to_string(),
        errno: None,
        strerror: None,
        message: format!("{message} ({n} sub-exception{plural})"),
        exceptions: exceptions
            .into_iter()
            .map(|e| ExceptionInfo {
                exception: e.exception,
                errno: e.errno,
                strerror: e.strerror,
                message: e.message,
            })
            .collect(),
    }
}

/// A failed name lookup as CPython's `set_gaierror` reports it: `EAI_SYSTEM`
/// becomes an OSError from errno.
pub fn from_gai(e: native::GaiError) -> Error {
    match (e.code == consts::c("EAI_SYSTEM"), e.errno) {
        (true, Some(errno)) => signalled_os_error(errno),
        _ => gaierror(e.code, e.message),
    }
}

/// An exception raised by a signal handler or an audit hook.
pub fn raised(r: native::Raised) -> Error {
    plain(&r.exception, r.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `OSError.__new__`'s subclass table (`Objects/exceptions.c`), on
    /// Linux errno numbers (the `errnomap` that `ADD_ERRNO` fills there).
    #[test]
    fn errno_classes_match_cpython() {
        let cases = [
            (11, "BlockingIOError"),
            (114, "BlockingIOError"),
            (115, "BlockingIOError"),
            (32, "BrokenPipeError"),
            (108, "BrokenPipeError"),
            (103, "ConnectionAbortedError"),
            (111, "ConnectionRefusedError"),
            (104, "ConnectionResetError"),
            (2, "FileNotFoundError"),
            (4, "InterruptedError"),
            (13, "PermissionError"),
            (1, "PermissionError"),
            (110, "TimeoutError"),
            (10, "ChildProcessError"),
            (17, "FileExistsError"),
            (21, "IsADirectoryError"),
            (20, "NotADirectoryError"),
            (3, "ProcessLookupError"),
            (106, "OSError"),
            (107, "OSError"),
            (9, "OSError"),
            (22, "OSError"),
            (98, "OSError"),
            (113, "OSError"),
            (88, "OSError"),
            (92, "OSError"),
            (97, "OSError"),
            (12345, "OSError"),
        ];
        for (errno, class) in cases {
            assert_eq!(os_error_class(errno), class, "errno {errno}");
        }
    }

    #[test]
    fn socket_timeout_has_no_errno() {
        let e = timed_out();
        assert_eq!(e.exception, "TimeoutError");
        assert_eq!(e.message, "timed out");
        assert_eq!(e.errno, None);
        assert_eq!(e.strerror, None);
    }

    #[test]
    fn gaierror_str() {
        let e = gaierror(-9, "Address family for hostname not supported".into());
        assert_eq!(e.errno, Some(-9));
        assert_eq!(
            e.message,
            "[Errno -9] Address family for hostname not supported"
        );
    }
}
