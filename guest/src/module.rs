//! The `socket` interface's module-level functions (`socket.socketpair`,
//! `socket.getdefaulttimeout`...) and the component's export.

use crate::bindings::exports::nativesock::socket::socket::{
    Address, Addrinfo, Guest, Hostent, Socket, Value,
};
use crate::consts;
use crate::create;
use crate::error::PyResult;
use crate::names;
use crate::netdb;
use crate::select;
use crate::socket::{self, PySocket};
use crate::timeout;

/// The semantics component.
pub struct Component;

impl Guest for Component {
    type Socket = PySocket;

    fn socketpair(
        family: Option<Value>,
        socket_type: Option<Value>,
        proto: Option<Value>,
    ) -> PyResult<(Socket, Socket)> {
        socket::socketpair(family.as_ref(), socket_type.as_ref(), proto.as_ref())
    }

    fn getaddrinfo(
        host: Value,
        port: Value,
        family: Option<Value>,
        socket_type: Option<Value>,
        proto: Option<Value>,
        flags: Option<Value>,
    ) -> PyResult<Vec<Addrinfo>> {
        netdb::getaddrinfo(
            host,
            port,
            family.as_ref(),
            socket_type.as_ref(),
            proto.as_ref(),
            flags.as_ref(),
        )
    }

    fn gethostbyname(hostname: Value) -> PyResult<String> {
        netdb::gethostbyname(hostname)
    }

    fn gethostbyname_ex(hostname: Value) -> PyResult<Hostent> {
        netdb::gethostbyname_ex(hostname)
    }

    fn gethostbyaddr(ip_address: Value) -> PyResult<Hostent> {
        netdb::gethostbyaddr(ip_address)
    }

    fn getnameinfo(sockaddr: Address, flags: Value) -> PyResult<(String, String)> {
        netdb::getnameinfo(sockaddr, &flags)
    }

    fn gethostname() -> PyResult<String> {
        netdb::gethostname()
    }

    fn getservbyname(servicename: String, protocolname: Option<String>) -> PyResult<i64> {
        netdb::getservbyname(servicename, protocolname)
    }

    fn getservbyport(port: Value, protocolname: Option<String>) -> PyResult<String> {
        netdb::getservbyport(&port, protocolname)
    }

    fn create_connection(
        address: Address,
        timeout: Option<Value>,
        source_address: Option<Address>,
        all_errors: bool,
    ) -> PyResult<Socket> {
        create::create_connection(address, timeout, source_address, all_errors)
    }

    fn create_server(
        address: Address,
        family: Option<Value>,
        backlog: Option<Value>,
        reuse_port: bool,
        dualstack_ipv6: bool,
    ) -> PyResult<Socket> {
        create::create_server(address, family, backlog, reuse_port, dualstack_ipv6)
    }

    fn has_dualstack_ipv6() -> bool {
        create::has_dualstack_ipv6()
    }

    fn getdefaulttimeout() -> Option<f64> {
        timeout::to_seconds(timeout::default_timeout())
    }

    fn setdefaulttimeout(value: Value) -> PyResult<()> {
        timeout::set_default_timeout(&value)
    }

    fn dup_fd(fd: Value) -> PyResult<i64> {
        socket::dup_fd(&fd)
    }

    fn getfqdn(name: String) -> PyResult<String> {
        netdb::getfqdn(name)
    }

    fn close_fd(fd: Value) -> PyResult<()> {
        socket::close_fd(&fd)
    }

    fn select(
        rlist: Vec<Value>,
        wlist: Vec<Value>,
        xlist: Vec<Value>,
        timeout: Option<Value>,
    ) -> PyResult<(Vec<u32>, Vec<u32>, Vec<u32>)> {
        let [r, w, x] = select::select(
            &mut select::Host,
            [&rlist, &wlist, &xlist],
            timeout.as_ref(),
        )?;
        Ok((r, w, x))
    }

    fn file_descriptor(fd: Value) -> PyResult<i32> {
        select::file_descriptor(&fd)
    }

    fn poll(fds: Vec<(i32, u16)>, timeout: Option<Value>) -> PyResult<Vec<(i32, u16)>> {
        select::poll(&mut select::Host, &fds, timeout.as_ref())
    }

    fn strerror(errno: i32) -> String {
        crate::bindings::nativesock::socket::native::strerror(errno)
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
