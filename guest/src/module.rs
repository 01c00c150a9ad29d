//! The `socket` interface's module-level functions (`socket.socketpair`,
//! `socket.getdefaulttimeout`...) and the component's export.

use crate::bindings::exports::nativesock::socket::socket::{Guest, Socket, Value};
use crate::consts;
use crate::error::PyResult;
use crate::names;
use crate::socket::{self, PySocket};
use crate::timeout;

/// The semantics component.
pub struct Component;

impl Guest for Component {
    type Socket = PySocket;

    fn socketpair(
        family: Option<i64>,
        socket_type: Option<i64>,
        proto: Option<i64>,
    ) -> PyResult<(Socket, Socket)> {
        socket::socketpair(family, socket_type, proto)
    }

    fn getdefaulttimeout() -> Option<f64> {
        timeout::to_seconds(timeout::default_timeout())
    }

    fn setdefaulttimeout(value: Value) -> PyResult<()> {
        timeout::set_default_timeout(&value)
    }

    fn close_fd(fd: i64) -> PyResult<()> {
        socket::close_fd(fd)
    }

    /// The host's value for a name the Python `socket` module (or, for
    /// errno names, the `errno` module) exposes: the host's table also holds
    /// names CPython does not export (`POLLIN`, `PF_INET`, `SO_TIMESTAMP`...),
    /// which Python code could not name either.
    fn constant(name: String) -> Option<i64> {
        if !names::is_cpython_name(&name) {
            return None;
        }
        consts::get(&name)
    }
}

// The export symbols (`nativesock:socket/socket@0.1.0#...`) are not valid
// names for a native shared library, so native unit-test builds skip them.
#[cfg(target_arch = "wasm32")]
crate::bindings::export!(Component with_types_in crate::bindings);
