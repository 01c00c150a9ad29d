//! `nativesock:socket/native` for wasmtime: thin adapters from the generated
//! `Host` trait to [`NativesockCtx`](crate::NativesockCtx)'s checked
//! operations. Conversions only; every decision is made in `ctx/`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use wasmtime::error::Context as _;

use tracing::Instrument as _;
use wasmtime::StoreContextMut;
use wasmtime::component::{HasData, Linker, LinkerInstance, WasmList};

use crate::bindings::r#async::nativesock::socket::native as wit_async;
use crate::bindings::sync::nativesock::socket::native as wit;
use crate::ctx::{NativesockCtxView, NativesockView};
use crate::hooks::{AuditArg, AuditEvent, AuditScalar, Raised, SocketRef};
use crate::sys::{self, AddrInfo, GaiError, SockAddr};

/// Adds `nativesock:socket/native@0.1.0` to `linker`, served by each store's
/// [`NativesockView`], for stores whose guests are called synchronously
/// (beside `wasmtime_wasi::p2::add_to_linker_sync`).
///
/// The functions are synchronous: they block the calling thread as the
/// native calls would. For a host on tokio, use [`add_to_linker_async`].
///
/// `send` and `sendmsg` hand the kernel the guest's bytes where they lie
/// in its memory, without copying them first. Defining them takes name
/// shadowing for a moment; `linker`'s setting is left as it was.
///
/// # Errors
///
/// When `linker` already defines the interface (and does not allow shadowing).
pub fn add_to_linker<T: NativesockView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasNativesock>(linker, T::nativesock)
        .and_then(|()| sends_in_place(linker, define_sends))
        .with_context(|| format!("failed to add `{NATIVE}` to the linker"))
}

/// Adds `nativesock:socket/native@0.1.0` to `linker` for stores whose
/// guests are called with wasmtime's `*_async` functions on a tokio
/// runtime (beside `wasmtime_wasi::p2::add_to_linker_async`).
///
/// A call that would block (`connect`, `accept`, the sends and receives,
/// `poll`, `poll-fds`) awaits the socket's readiness on the runtime
/// instead of blocking a worker thread, and returns what the blocking
/// call returns: the socket's `O_NONBLOCK` stays what the guest set, and
/// its `SO_RCVTIMEO`/`SO_SNDTIMEO`, the store's blocking cap and its
/// [`CancelHandle`](crate::CancelHandle) end a wait as they end a blocking
/// call. Dropping the call's future cancels the wait and leaks nothing.
/// `close` under `SO_LINGER` and host name lookups, which block without a
/// socket to await, run on tokio's blocking pool while the call awaits
/// them, under the same cap and cancel. The runtime must have its IO and time
/// drivers enabled (`enable_all`), as wasmtime-wasi's own async sockets
/// need; called outside a runtime, the functions block as the
/// synchronous ones do. `send` and `sendmsg` read the guest's bytes in
/// place, as [`add_to_linker`]'s do.
///
/// # Errors
///
/// When `linker` already defines the interface (and does not allow shadowing).
pub fn add_to_linker_async<T: NativesockView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    wit_async::add_to_linker::<T, HasNativesock>(linker, T::nativesock)
        .and_then(|()| sends_in_place(linker, define_sends_async))
        .with_context(|| format!("failed to add `{NATIVE}` to the linker"))
}

/// The WIT interface's name in a linker.
const NATIVE: &str = "nativesock:socket/native@0.1.0";

/// Replaces the generated `send` and `sendmsg` in `linker` with `define`'s,
/// which read the guest's bytes where they are ([`in_place`]) instead of
/// lifting them into a `Vec` first: one copy of every byte sent fewer.
/// The generated ones stay the `Host` trait's, for callers of the trait.
///
/// Redefining a name takes shadowing, which a linker may not allow. If it
/// does, the first try succeeds; if not, shadowing is allowed for the
/// redefinition alone, and disallowed again, as it was.
fn sends_in_place<T: 'static>(
    linker: &mut Linker<T>,
    define: fn(&mut LinkerInstance<'_, T>) -> wasmtime::Result<()>,
) -> wasmtime::Result<()> {
    if define(&mut linker.instance(NATIVE)?).is_ok() {
        return Ok(());
    }
    linker.allow_shadowing(true);
    let defined = linker.instance(NATIVE).and_then(|mut i| define(&mut i));
    linker.allow_shadowing(false);
    defined
}

/// The bytes of `data` where the guest wrote them, beside the store's view.
///
/// The host functions that use this lift every other argument as the
/// generated ones do; `data` is a [`WasmList`], which wasmtime has already
/// checked lies within the guest's memory (and charged fuel for).
fn in_place<'a, T: NativesockView + 'static>(
    store: &'a mut StoreContextMut<'_, T>,
    data: &WasmList<u8>,
) -> (&'a [u8], NativesockCtxView<'a>) {
    let bytes: *const [u8] = data.as_le_slice(&*store);
    // SAFETY: `bytes` is in the guest's linear memory, which is not part of
    // the store's data `T`: the view borrows `T` alone, so the two do not
    // alias. Nothing can write, grow, move or unmap that memory while the
    // host call holds `store` (until `'a` ends): no guest code runs in the
    // store until the call returns, the host code behind the view has no
    // handle on the store, and a component's memories are never shared
    // with other threads.
    let bytes = unsafe { &*bytes };
    (bytes, store.data_mut().nativesock())
}

/// Opens a host call's trace span as the generated functions do.
macro_rules! import_span {
    ($function:literal) => {
        tracing::span!(
            tracing::Level::TRACE,
            "wit-bindgen import",
            module = "native",
            function = $function,
        )
    };
}

/// Logs a `send`'s call as the generated function does (lists left out).
macro_rules! send_called {
    ($fd:expr, $flags:expr) => {
        tracing::event!(
            tracing::Level::TRACE,
            fd = tracing::field::debug(&$fd),
            data = tracing::field::debug("..."),
            flags = tracing::field::debug(&$flags),
            "call"
        )
    };
}

/// Logs a `sendmsg`'s call as the generated function does (lists left out).
macro_rules! sendmsg_called {
    ($fd:expr, $flags:expr, $address:expr) => {
        tracing::event!(
            tracing::Level::TRACE,
            fd = tracing::field::debug(&$fd),
            data = tracing::field::debug("..."),
            lengths = tracing::field::debug("..."),
            ancillary = tracing::field::debug("..."),
            ancillary_data = tracing::field::debug("..."),
            flags = tracing::field::debug(&$flags),
            address = tracing::field::debug(&$address),
            "call"
        )
    };
}

/// Logs a call's result as the generated functions do.
macro_rules! returned_event {
    ($result:expr) => {
        tracing::event!(
            tracing::Level::TRACE,
            result = tracing::field::debug(&$result),
            "return"
        )
    };
}

/// `sendmsg`'s arguments, with `data` in place.
type SendmsgArgs<C, A> = (
    wit::Fd,
    WasmList<u8>,
    Vec<u32>,
    Vec<C>,
    Vec<u8>,
    i32,
    Option<A>,
);

/// `send` and `sendmsg` for a synchronous store (see [`sends_in_place`]).
fn define_sends<T: NativesockView + 'static>(
    linker: &mut LinkerInstance<'_, T>,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        "send",
        |mut store: StoreContextMut<'_, T>, (fd, data, flags): (wit::Fd, WasmList<u8>, i32)| {
            let span = import_span!("send");
            let _enter = span.enter();
            send_called!(fd, flags);
            let (data, view) = in_place(&mut store, &data);
            let r = blocking_calls::send(view.ctx, fd, data, flags);
            returned_event!(r);
            Ok((r,))
        },
    )?;
    linker.func_wrap(
        "sendmsg",
        |mut store: StoreContextMut<'_, T>, args: SendmsgArgs<wit::CmsgHeader, wit::Sockaddr>| {
            let span = import_span!("sendmsg");
            let _enter = span.enter();
            sendmsg_called!(args.0, args.5, args.6);
            let (data, view) = in_place(&mut store, &args.1);
            let r = blocking_calls::sendmsg_in_place(view.ctx, data, args);
            returned_event!(r);
            Ok((r,))
        },
    )
}

/// `send` and `sendmsg` for an async store (see [`sends_in_place`]).
fn define_sends_async<T: NativesockView + 'static>(
    linker: &mut LinkerInstance<'_, T>,
) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        "send",
        |mut store: StoreContextMut<'_, T>,
         (fd, data, flags): (wit_async::Fd, WasmList<u8>, i32)| {
            let span = import_span!("send");
            Box::new(
                async move {
                    send_called!(fd, flags);
                    let (data, view) = in_place(&mut store, &data);
                    let r = awaiting_calls::send(view.ctx, fd, data, flags).await;
                    returned_event!(r);
                    Ok((r,))
                }
                .instrument(span),
            )
        },
    )?;
    linker.func_wrap_async(
        "sendmsg",
        |mut store: StoreContextMut<'_, T>,
         args: SendmsgArgs<wit_async::CmsgHeader, wit_async::Sockaddr>| {
            let span = import_span!("sendmsg");
            Box::new(
                async move {
                    sendmsg_called!(args.0, args.5, args.6);
                    let (data, view) = in_place(&mut store, &args.1);
                    let r = awaiting_calls::sendmsg_in_place(view.ctx, data, args).await;
                    returned_event!(r);
                    Ok((r,))
                }
                .instrument(span),
            )
        },
    )
}

/// Marks [`NativesockCtxView`] as the data the generated host functions borrow.
struct HasNativesock;

impl HasData for HasNativesock {
    type Data<'a> = NativesockCtxView<'a>;
}

/// `data` cut into consecutive parts of `lengths`; `EINVAL` unless they
/// add up to all of it.
fn split(data: &[u8], lengths: impl Iterator<Item = usize>) -> Result<Vec<&[u8]>, wit::Errno> {
    let mut rest = data;
    let parts = lengths
        .map(|n| {
            let (part, tail) = rest.split_at_checked(n).ok_or(libc::EINVAL)?;
            rest = tail;
            Ok(part)
        })
        .collect::<Result<Vec<_>, wit::Errno>>()?;
    if rest.is_empty() {
        Ok(parts)
    } else {
        Err(libc::EINVAL)
    }
}

/// A byte count for the guest. The kernel never moves more than the guest's
/// own list held, so this cannot overflow; if it did, `EOVERFLOW`.
fn count(n: usize) -> Result<u32, wit::Errno> {
    u32::try_from(n).map_err(|_| libc::EOVERFLOW)
}

/// The conversions between a generated module's types and the crate's,
/// and its `Host` implementation, in module `$calls` with the sends that
/// [`in_place`] also calls: `$wit` is the generated module, `$mode` how
/// calls that can wait do so (`wait.rs`), `$block` runs such a call's
/// future (`now` or `.await`), `$finish` takes a `$calls` function's result
/// (as it is or `.await`), and `async` marks the functions that are async.
macro_rules! bindings_for {
    ($calls:ident, $wit:ident, $mode:expr, $block:ident, $finish:ident $(, $async:tt)?) => {
    mod $calls {
    use super::*;

    /// `send` of `data`, wherever its bytes are (see [`in_place`]).
    pub(super) $($async)? fn send(
        ctx: &mut crate::NativesockCtx,
        fd: $wit::Fd,
        data: &[u8],
        flags: i32,
    ) -> Result<u32, $wit::Errno> {
        count($block!(ctx.send_in($mode, fd, data, flags))?)
    }

    /// `sendmsg` with the WIT function's arguments and `data`, the bytes
    /// of its list where the guest wrote them (see [`in_place`]).
    pub(super) $($async)? fn sendmsg_in_place(
        ctx: &mut crate::NativesockCtx,
        data: &[u8],
        args: SendmsgArgs<$wit::CmsgHeader, $wit::Sockaddr>,
    ) -> Result<u32, $wit::Errno> {
        let (fd, _, lengths, ancillary, ancillary_data, flags, address) = args;
        $finish!(sendmsg(ctx, fd, data, &lengths, &ancillary, &ancillary_data, flags, address))
    }

    /// `sendmsg` of `data`, wherever its bytes are (see [`in_place`]).
    #[allow(clippy::too_many_arguments)] // the WIT function's own
    pub(super) $($async)? fn sendmsg(
        ctx: &mut crate::NativesockCtx,
        fd: $wit::Fd,
        data: &[u8],
        lengths: &[u32],
        ancillary: &[$wit::CmsgHeader],
        ancillary_data: &[u8],
        flags: i32,
        address: Option<$wit::Sockaddr>,
    ) -> Result<u32, $wit::Errno> {
        // The kernel looks the fd up before it reads the message.
        if !ctx.owns_fd(fd) {
            return Err(libc::EBADF);
        }
        if lengths.len() > crate::ctx::MAX_IOV {
            return Err(libc::EMSGSIZE);
        }
        let buffers = split(data, lengths.iter().map(|&n| n as usize))?;
        // Each item takes at least a header (`CMSG_SPACE`) of control buffer.
        let space = ancillary.iter().try_fold(0usize, |total, h| {
            let space = (h.length as usize).saturating_add(16);
            Some(total.saturating_add(space)).filter(|&t| t <= crate::ctx::MAX_SOCKOPT_LEN)
        });
        if space.is_none() {
            return Err(libc::ENOBUFS);
        }
        let items = split(ancillary_data, ancillary.iter().map(|h| h.length as usize))?;
        let ancillary: Vec<sys::Cmsg> = ancillary
            .iter()
            .zip(items)
            .map(|(h, data)| sys::Cmsg {
                level: h.level,
                kind: h.kind,
                data: data.to_vec(),
            })
            .collect();
        let address = address.map(SockAddr::from);
        count($block!(ctx.sendmsg_in($mode,
            fd,
            &buffers,
            &ancillary,
            flags,
            address.as_ref()
        ))?)
    }

    impl From<$wit::Sockaddr> for SockAddr {
        fn from(a: $wit::Sockaddr) -> SockAddr {
            match a {
                $wit::Sockaddr::Unspec => SockAddr::Unspec,
                $wit::Sockaddr::Inet(a) => {
                    let (b0, b1, b2, b3) = a.addr;
                    SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::new(b0, b1, b2, b3), a.port))
                }
                $wit::Sockaddr::Inet6(a) => {
                    let (g0, g1, g2, g3, g4, g5, g6, g7) = a.addr;
                    SockAddr::Inet6(SocketAddrV6::new(
                        Ipv6Addr::new(g0, g1, g2, g3, g4, g5, g6, g7),
                        a.port,
                        a.flowinfo,
                        a.scope_id,
                    ))
                }
                $wit::Sockaddr::Unix(path) => SockAddr::Unix(path),
                $wit::Sockaddr::Other((family, data)) => SockAddr::Other(family, data),
            }
        }
    }

    impl From<SockAddr> for $wit::Sockaddr {
        fn from(a: SockAddr) -> $wit::Sockaddr {
            match a {
                SockAddr::Unspec => $wit::Sockaddr::Unspec,
                SockAddr::Inet(a) => {
                    let [b0, b1, b2, b3] = a.ip().octets();
                    $wit::Sockaddr::Inet($wit::InetAddress {
                        addr: (b0, b1, b2, b3),
                        port: a.port(),
                    })
                }
                SockAddr::Inet6(a) => {
                    let [g0, g1, g2, g3, g4, g5, g6, g7] = a.ip().segments();
                    $wit::Sockaddr::Inet6($wit::Inet6Address {
                        addr: (g0, g1, g2, g3, g4, g5, g6, g7),
                        port: a.port(),
                        flowinfo: a.flowinfo(),
                        scope_id: a.scope_id(),
                    })
                }
                SockAddr::Unix(path) => $wit::Sockaddr::Unix(path),
                SockAddr::Other(family, data) => $wit::Sockaddr::Other((family, data)),
            }
        }
    }

    impl From<Raised> for $wit::Raised {
        fn from(r: Raised) -> $wit::Raised {
            $wit::Raised {
                exception: r.exception,
                message: r.message,
            }
        }
    }

    impl From<GaiError> for $wit::GaiError {
        fn from(e: GaiError) -> $wit::GaiError {
            $wit::GaiError {
                code: e.code,
                message: e.message,
                errno: e.errno,
            }
        }
    }

    impl From<AddrInfo> for $wit::Addrinfo {
        fn from(ai: AddrInfo) -> $wit::Addrinfo {
            $wit::Addrinfo {
                family: ai.family,
                socket_type: ai.socket_type,
                protocol: ai.protocol,
                canonname: ai.canonname,
                address: ai.address.into(),
            }
        }
    }

    impl From<sys::HostEnt> for $wit::Hostent {
        fn from(h: sys::HostEnt) -> $wit::Hostent {
            $wit::Hostent {
                name: h.name,
                aliases: h.aliases,
                addresses: h.addresses.into_iter().map(Into::into).collect(),
            }
        }
    }

    impl From<sys::HostError> for $wit::HostError {
        fn from(e: sys::HostError) -> $wit::HostError {
            $wit::HostError {
                code: e.code,
                message: e.message,
                errno: e.errno,
            }
        }
    }

    impl From<$wit::AuditScalar> for AuditScalar {
        fn from(s: $wit::AuditScalar) -> AuditScalar {
            match s {
                $wit::AuditScalar::None => AuditScalar::None,
                $wit::AuditScalar::Boolean(b) => AuditScalar::Boolean(b),
                $wit::AuditScalar::Int(i) => AuditScalar::Int(i),
                $wit::AuditScalar::Float(f) => AuditScalar::Float(f),
                $wit::AuditScalar::Str(s) => AuditScalar::Str(s),
                $wit::AuditScalar::Bytes(b) => AuditScalar::Bytes(b),
                $wit::AuditScalar::BigInt(digits) => AuditScalar::BigInt(digits),
                $wit::AuditScalar::Object(type_name) => AuditScalar::Object(type_name),
            }
        }
    }

    impl From<$wit::AuditArg> for AuditArg {
        fn from(a: $wit::AuditArg) -> AuditArg {
            match a {
                $wit::AuditArg::Scalar(s) => AuditArg::Scalar(s.into()),
                $wit::AuditArg::Tuple(items) => {
                    AuditArg::Tuple(items.into_iter().map(Into::into).collect())
                }
                $wit::AuditArg::Socket(s) => AuditArg::Socket(SocketRef {
                    fd: s.fd,
                    family: s.family,
                    socket_type: s.socket_type,
                    proto: s.proto,
                }),
            }
        }
    }

    impl $wit::Host for NativesockCtxView<'_> {
        fn socket(
            &mut self,
            family: i32,
            socket_type: i32,
            protocol: i32,
        ) -> Result<$wit::Fd, $wit::Errno> {
            self.ctx.socket(family, socket_type, protocol)
        }

        fn socketpair(
            &mut self,
            family: i32,
            socket_type: i32,
            protocol: i32,
        ) -> Result<($wit::Fd, $wit::Fd), $wit::Errno> {
            self.ctx.socketpair(family, socket_type, protocol)
        }

        $($async)? fn close(&mut self, fd: $wit::Fd) -> Result<(), $wit::Errno> {
            $block!(self.ctx.close_in($mode, fd))
        }

        $($async)? fn connect(&mut self, fd: $wit::Fd, address: $wit::Sockaddr) -> Result<(), $wit::Errno> {
            $block!(self.ctx.connect_in($mode, fd, &address.into()))
        }

        fn bind(&mut self, fd: $wit::Fd, address: $wit::Sockaddr) -> Result<(), $wit::Errno> {
            self.ctx.bind(fd, &address.into())
        }

        fn listen(&mut self, fd: $wit::Fd, backlog: i32) -> Result<(), $wit::Errno> {
            self.ctx.listen(fd, backlog)
        }

        $($async)? fn accept(&mut self, fd: $wit::Fd, flags: i32) -> Result<($wit::Fd, $wit::Sockaddr), $wit::Errno> {
            let (new, peer) = $block!(self.ctx.accept_in($mode, fd, flags))?;
            Ok((new, peer.into()))
        }

        fn getsockname(&mut self, fd: $wit::Fd) -> Result<$wit::Sockaddr, $wit::Errno> {
            self.ctx.getsockname(fd).map(Into::into)
        }

        fn getpeername(&mut self, fd: $wit::Fd) -> Result<$wit::Sockaddr, $wit::Errno> {
            self.ctx.getpeername(fd).map(Into::into)
        }

        fn getsockopt(
            &mut self,
            fd: $wit::Fd,
            level: i32,
            name: i32,
            length: u32,
        ) -> Result<Vec<u8>, $wit::Errno> {
            self.ctx.getsockopt(fd, level, name, length)
        }

        fn setsockopt(
            &mut self,
            fd: $wit::Fd,
            level: i32,
            name: i32,
            value: Vec<u8>,
        ) -> Result<(), $wit::Errno> {
            self.ctx.setsockopt(fd, level, name, &value)
        }

        fn setsockopt_null(
            &mut self,
            fd: $wit::Fd,
            level: i32,
            name: i32,
            length: u32,
        ) -> Result<(), $wit::Errno> {
            self.ctx.setsockopt_null(fd, level, name, length)
        }

        $($async)? fn send(&mut self, fd: $wit::Fd, data: Vec<u8>, flags: i32) -> Result<u32, $wit::Errno> {
            $finish!(send(self.ctx, fd, &data, flags))
        }

        $($async)? fn sendto(
            &mut self,
            fd: $wit::Fd,
            data: Vec<u8>,
            flags: i32,
            address: $wit::Sockaddr,
        ) -> Result<u32, $wit::Errno> {
            count($block!(self.ctx.sendto_in($mode, fd, &data, flags, &address.into()))?)
        }

        $($async)? fn recv(&mut self, fd: $wit::Fd, length: u32, flags: i32) -> Result<Vec<u8>, $wit::Errno> {
            $block!(self.ctx.recv_in($mode, fd, length, flags))
        }

        $($async)? fn recvfrom(
            &mut self,
            fd: $wit::Fd,
            length: u32,
            flags: i32,
        ) -> Result<(Vec<u8>, $wit::Sockaddr), $wit::Errno> {
            let (data, from) = $block!(self.ctx.recvfrom_in($mode, fd, length, flags))?;
            Ok((data, from.into()))
        }

        $($async)? fn sendmsg(
            &mut self,
            fd: $wit::Fd,
            data: Vec<u8>,
            lengths: Vec<u32>,
            ancillary: Vec<$wit::CmsgHeader>,
            ancillary_data: Vec<u8>,
            flags: i32,
            address: Option<$wit::Sockaddr>,
        ) -> Result<u32, $wit::Errno> {
            $finish!(sendmsg(self.ctx, fd, &data, &lengths, &ancillary, &ancillary_data, flags, address))
        }

        $($async)? fn recvmsg(
            &mut self,
            fd: $wit::Fd,
            length: u32,
            ancillary_length: u32,
            flags: i32,
        ) -> Result<$wit::Message, $wit::Errno> {
            let msg = $block!(self.ctx.recvmsg_in($mode, fd, length, ancillary_length, flags))?;
            Ok($wit::Message {
                data: msg.data,
                // The kernel's count for one datagram fits a u32; saturate if not.
                length: u32::try_from(msg.length).unwrap_or(u32::MAX),
                ancillary: msg
                    .ancillary
                    .into_iter()
                    .map(|c| $wit::Cmsg {
                        level: c.level,
                        kind: c.kind,
                        data: c.data,
                    })
                    .collect(),
                flags: msg.flags,
                address: msg.address.into(),
            })
        }

        fn shutdown(&mut self, fd: $wit::Fd, how: i32) -> Result<(), $wit::Errno> {
            self.ctx.shutdown(fd, how)
        }

        fn dup(&mut self, fd: $wit::Fd) -> Result<$wit::Fd, $wit::Errno> {
            self.ctx.dup(fd)
        }

        fn get_cloexec(&mut self, fd: $wit::Fd) -> Result<bool, $wit::Errno> {
            self.ctx.get_cloexec(fd)
        }

        fn set_cloexec(&mut self, fd: $wit::Fd, cloexec: bool) -> Result<(), $wit::Errno> {
            self.ctx.set_cloexec(fd, cloexec)
        }

        fn get_nonblocking(&mut self, fd: $wit::Fd) -> Result<bool, $wit::Errno> {
            self.ctx.get_nonblocking(fd)
        }

        fn set_nonblocking(&mut self, fd: $wit::Fd, nonblocking: bool) -> Result<(), $wit::Errno> {
            self.ctx.set_nonblocking(fd, nonblocking)
        }

        $($async)? fn poll(&mut self, fd: $wit::Fd, events: i16, timeout_ms: i32) -> Result<i16, $wit::Errno> {
            $block!(self.ctx.poll_in($mode, fd, events, timeout_ms))
        }

        $($async)? fn poll_fds(&mut self, fds: Vec<$wit::Pollfd>, timeout_ms: i32) -> Result<Vec<i16>, $wit::Errno> {
            let fds: Vec<($wit::Fd, i16)> = fds.iter().map(|p| (p.fd, p.events)).collect();
            $block!(self.ctx.poll_fds_in($mode, &fds, timeout_ms))
        }

        fn check_signals(&mut self) -> Result<(), $wit::Raised> {
            self.ctx.check_signals().map_err(Into::into)
        }

        fn audit(&mut self, event: String, args: Vec<$wit::AuditArg>) -> Result<(), $wit::Raised> {
            let event = AuditEvent {
                name: event,
                args: args.into_iter().map(Into::into).collect(),
            };
            self.ctx.audit(&event).map_err(Into::into)
        }

        fn audit_hooked(&mut self) -> bool {
            self.ctx.audit_hooked()
        }

        $($async)? fn getaddrinfo(
            &mut self,
            host: Option<String>,
            port: Option<String>,
            family: i32,
            socket_type: i32,
            protocol: i32,
            flags: i32,
        ) -> Result<Vec<$wit::Addrinfo>, $wit::GaiError> {
            let infos = $block!(self.ctx.getaddrinfo_in(
                $mode,
                host.as_deref(),
                port.as_deref(),
                family,
                socket_type,
                protocol,
                flags,
            ))?;
            Ok(infos.into_iter().map(Into::into).collect())
        }

        $($async)? fn getnameinfo(
            &mut self,
            address: $wit::Sockaddr,
            flags: i32,
        ) -> Result<(String, String), $wit::GaiError> {
            Ok($block!(self.ctx.getnameinfo_in($mode, &address.into(), flags))?)
        }

        $($async)? fn gethostbyname(&mut self, name: String) -> Result<$wit::Hostent, $wit::HostError> {
            Ok($block!(self.ctx.gethostbyname_in($mode, &name))?.into())
        }

        $($async)? fn gethostbyaddr(&mut self, address: $wit::Sockaddr) -> Result<$wit::Hostent, $wit::HostError> {
            Ok($block!(self.ctx.gethostbyaddr_in($mode, &address.into()))?.into())
        }

        fn getservbyname(&mut self, name: String, proto: Option<String>) -> Option<u16> {
            self.ctx.getservbyname(&name, proto.as_deref())
        }

        fn getservbyport(&mut self, port: u16, proto: Option<String>) -> Option<String> {
            self.ctx.getservbyport(port, proto.as_deref())
        }

        fn gethostname(&mut self) -> Result<String, $wit::Errno> {
            self.ctx.gethostname()
        }

        fn constants(&mut self) -> Vec<(String, i64)> {
            sys::CONSTANTS
                .iter()
                .map(|&(name, value)| (name.to_owned(), value))
                .collect()
        }

        fn constant(&mut self, name: String) -> Option<i64> {
            sys::constant(&name)
        }

        fn strerror(&mut self, errno: $wit::Errno) -> String {
            sys::strerror(errno)
        }

        fn monotonic_ns(&mut self) -> u64 {
            sys::monotonic_ns()
        }
    }
    }
    };
}

/// Runs a blocking call's future (see `wait::now`).
macro_rules! blocking {
    ($future:expr) => {
        crate::wait::now($future)
    };
}

/// A synchronous call's result, as it is.
macro_rules! returned {
    ($result:expr) => {
        $result
    };
}

/// Awaits an async call's future.
macro_rules! awaiting {
    ($future:expr) => {
        $future.await
    };
}

bindings_for!(
    blocking_calls,
    wit,
    crate::wait::Mode::Blocking,
    blocking,
    returned
);
bindings_for!(
    awaiting_calls,
    wit_async,
    crate::wait::Mode::Awaiting,
    awaiting,
    awaiting,
    async
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddrs_convert_both_ways_field_by_field() {
        let inet6 = wit::Sockaddr::Inet6(wit::Inet6Address {
            addr: (0xfe80, 0, 0, 0, 0, 0, 0, 1),
            port: 8080,
            flowinfo: 0x12345,
            scope_id: 3,
        });
        let native = SockAddr::from(inet6);
        assert_eq!(
            native,
            SockAddr::Inet6(SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                8080,
                0x12345,
                3
            ))
        );
        assert!(matches!(
            wit::Sockaddr::from(native),
            wit::Sockaddr::Inet6(wit::Inet6Address {
                addr: (0xfe80, 0, 0, 0, 0, 0, 0, 1),
                port: 8080,
                flowinfo: 0x12345,
                scope_id: 3,
            })
        ));
        let inet = SockAddr::from(wit::Sockaddr::Inet(wit::InetAddress {
            addr: (127, 0, 0, 2),
            port: 53,
        }));
        assert_eq!(
            inet,
            SockAddr::Inet(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 53))
        );
        assert!(matches!(
            wit::Sockaddr::from(inet),
            wit::Sockaddr::Inet(wit::InetAddress {
                addr: (127, 0, 0, 2),
                port: 53
            })
        ));
        assert_eq!(
            SockAddr::from(wit::Sockaddr::Unix(b"\0x".to_vec())),
            SockAddr::Unix(b"\0x".to_vec())
        );
        assert_eq!(
            SockAddr::from(wit::Sockaddr::Other((17, vec![1, 2]))),
            SockAddr::Other(17, vec![1, 2])
        );
        assert_eq!(SockAddr::from(wit::Sockaddr::Unspec), SockAddr::Unspec);
    }

    #[test]
    fn audit_args_convert_to_the_public_types() {
        let arg = wit::AuditArg::Tuple(vec![
            wit::AuditScalar::Str("127.0.0.1".into()),
            wit::AuditScalar::Int(80),
            wit::AuditScalar::Bytes(vec![0]),
            wit::AuditScalar::None,
        ]);
        assert_eq!(
            AuditArg::from(arg),
            AuditArg::Tuple(vec![
                AuditScalar::Str("127.0.0.1".into()),
                AuditScalar::Int(80),
                AuditScalar::Bytes(vec![0]),
                AuditScalar::None,
            ])
        );
        let sock = wit::AuditArg::Socket(wit::SocketRef {
            fd: 3,
            family: 2,
            socket_type: 1,
            proto: 6,
        });
        assert_eq!(
            AuditArg::from(sock),
            AuditArg::Socket(SocketRef {
                fd: 3,
                family: 2,
                socket_type: 1,
                proto: 6
            })
        );
    }

    #[test]
    fn sendmsg_takes_flat_lists_with_the_kernels_limits() {
        use wit::Host as _;
        let mut ctx = crate::NativesockCtx::builder().build();
        let mut view = NativesockCtxView { ctx: &mut ctx };
        let (a, b) = view.socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        let rights = |n: u32| wit::CmsgHeader {
            level: libc::SOL_SOCKET,
            kind: libc::SCM_RIGHTS,
            length: n,
        };
        let send = |view: &mut NativesockCtxView<'_>,
                    fd,
                    data: &[u8],
                    lengths: Vec<u32>,
                    headers: Vec<wit::CmsgHeader>,
                    control: &[u8]| {
            view.sendmsg(
                fd,
                data.to_vec(),
                lengths,
                headers,
                control.to_vec(),
                0,
                None,
            )
        };
        // Four million empty buffers cost the host their 4-byte lengths,
        // and are refused before anything else is built.
        let many = vec![0u32; 4 << 20];
        assert_eq!(
            send(&mut view, a, b"", many, vec![], b""),
            Err(libc::EMSGSIZE)
        );
        assert_eq!(
            send(&mut view, 12345, b"", vec![0; 2000], vec![], b""),
            Err(libc::EBADF)
        );
        assert_eq!(
            send(&mut view, a, b"abc", vec![1, 1], vec![], b""),
            Err(libc::EINVAL)
        );
        assert_eq!(
            send(&mut view, a, b"abc", vec![1, 3], vec![], b""),
            Err(libc::EINVAL)
        );
        let fd = a.to_ne_bytes();
        assert_eq!(
            send(&mut view, a, b"x", vec![1], vec![rights(8)], &fd),
            Err(libc::EINVAL)
        );
        let headers = (0..5000).map(|_| rights(0)).collect();
        assert_eq!(
            send(&mut view, a, b"x", vec![1], headers, b""),
            Err(libc::ENOBUFS)
        );
        // A real one: two buffers, one fd.
        assert_eq!(
            send(&mut view, a, b"hello", vec![2, 3], vec![rights(4)], &fd),
            Ok(5)
        );
        let msg = view.recvmsg(b, 16, 64, 0).unwrap();
        assert_eq!(msg.data, b"hello");
        assert_eq!(msg.ancillary.len(), 1);
    }

    #[test]
    fn add_to_linker_defines_the_interface_once() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<crate::NativesockCtx>::new(&engine);
        add_to_linker(&mut linker).unwrap();
        let err = add_to_linker(&mut linker).unwrap_err();
        assert!(
            format!("{err:#}").contains("nativesock:socket/native@0.1.0"),
            "{err:#}"
        );
    }
}
