//! Name and service lookups: `getaddrinfo`, `getnameinfo`, the reentrant
//! host and service database calls.

use super::*;

/// A failed name lookup: the WIT `gai-error` (`getaddrinfo`, `getnameinfo`)
/// and `host-error` (`gethostbyname`, `gethostbyaddr`) have the same fields;
/// only the meaning of `code` and the constructors differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LookupError {
    /// The `EAI_*` code, or the `h_errno` (0 when `errno` says what failed).
    pub(crate) code: i32,
    /// `gai_strerror(code)` or `hstrerror(code)`, or `strerror(errno)`.
    pub(crate) message: String,
    /// The errno behind `EAI_SYSTEM` or behind a host lookup's failure.
    pub(crate) errno: Option<Errno>,
}

/// A failed `getaddrinfo`/`getnameinfo` (mirrors the WIT `gai-error`): made
/// by [`LookupError::from_code`] or [`LookupError::system`].
pub(crate) type GaiError = LookupError;

/// A failed host lookup (mirrors the WIT `host-error`): made by
/// [`LookupError::h_errno`] or [`LookupError::errno`].
pub(crate) type HostError = LookupError;

impl LookupError {
    /// A code and its text.
    pub(super) fn described(code: i32, text: &CStr) -> LookupError {
        LookupError {
            code,
            message: text.to_string_lossy().into_owned(),
            errno: None,
        }
    }

    /// An errno, with `code` beside it.
    pub(super) fn with_errno(code: i32, errno: Errno) -> LookupError {
        LookupError {
            code,
            message: strerror(errno),
            errno: Some(errno),
        }
    }

    /// The error for a code `getaddrinfo`/`getnameinfo` returned; `errno` is
    /// read for `EAI_SYSTEM` only.
    pub(crate) fn from_code(code: i32, errno: Errno) -> GaiError {
        if code == libc::EAI_SYSTEM {
            return LookupError::system(errno);
        }
        // SAFETY: `gai_strerror` returns a static string for any code.
        let text = unsafe { CStr::from_ptr(libc::gai_strerror(code)) };
        LookupError::described(code, text)
    }

    /// `EAI_SYSTEM` for `errno`.
    pub(crate) fn system(errno: Errno) -> GaiError {
        LookupError::with_errno(libc::EAI_SYSTEM, errno)
    }

    /// A host lookup's `h_errno`.
    pub(super) fn h_errno(code: i32) -> HostError {
        // SAFETY: `hstrerror` returns a static string for any code.
        let text = unsafe { CStr::from_ptr(libc::hstrerror(code)) };
        LookupError::described(code, text)
    }

    /// A host lookup's errno instead of an `h_errno` (code 0).
    pub(crate) fn errno(errno: Errno) -> HostError {
        LookupError::with_errno(0, errno)
    }
}

/// One `getaddrinfo` result (mirrors the WIT `addrinfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AddrInfo {
    pub(crate) family: i32,
    pub(crate) socket_type: i32,
    pub(crate) protocol: i32,
    pub(crate) canonname: Option<String>,
    pub(crate) address: SockAddr,
}

/// A C string for a lookup argument; a string with a NUL inside cannot be
/// passed to C at all and is `EAI_SYSTEM`/`EINVAL`.
pub(super) fn lookup_cstring(s: Option<&str>) -> Result<Option<CString>, GaiError> {
    s.map(|s| CString::new(s).map_err(|_| GaiError::system(libc::EINVAL)))
        .transpose()
}

/// `getaddrinfo(host, port, hints)`.
pub(crate) fn getaddrinfo(
    host: Option<&str>,
    port: Option<&str>,
    family: i32,
    socket_type: i32,
    protocol: i32,
    flags: i32,
) -> Result<Vec<AddrInfo>, GaiError> {
    let host = lookup_cstring(host)?;
    let port = lookup_cstring(port)?;
    // SAFETY: `addrinfo` is plain old data; all zeroes (NULL pointers) is valid.
    let mut hints: libc::addrinfo = unsafe { mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socket_type;
    hints.ai_protocol = protocol;
    hints.ai_flags = flags;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the strings are NUL-terminated or NULL, `hints` is valid and
    // `res` receives a list we free below.
    let code = unsafe {
        libc::getaddrinfo(
            host.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            port.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        )
    };
    if code != 0 {
        return Err(GaiError::from_code(code, last_errno()));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list `getaddrinfo` returned.
        let ai = unsafe { &*cur };
        let mut raw = RawAddr::zeroed();
        let len = usize::try_from(ai.ai_addrlen).unwrap_or(0).min(STORAGE_LEN);
        if !ai.ai_addr.is_null() {
            // SAFETY: `ai_addr` points to `ai_addrlen` bytes of address.
            let src = unsafe { std::slice::from_raw_parts(ai.ai_addr.cast::<u8>(), len) };
            raw.bytes_mut()[..len].copy_from_slice(src);
            raw.len = len as libc::socklen_t;
        } else {
            raw.len = 0;
        }
        let canonname = (!ai.ai_canonname.is_null()).then(|| {
            // SAFETY: a non-NULL `ai_canonname` is a C string.
            unsafe { CStr::from_ptr(ai.ai_canonname) }
                .to_string_lossy()
                .into_owned()
        });
        out.push(AddrInfo {
            family: ai.ai_family,
            socket_type: ai.ai_socktype,
            protocol: ai.ai_protocol,
            canonname,
            address: SockAddr::from_raw(&raw),
        });
        cur = ai.ai_next;
    }
    // SAFETY: `res` is the list `getaddrinfo` returned, freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

/// `getnameinfo(address, flags)`: the host and the service.
pub(crate) fn getnameinfo(address: &SockAddr, flags: i32) -> Result<(String, String), GaiError> {
    let raw = address.to_raw().map_err(GaiError::system)?;
    let mut host = [0u8; libc::NI_MAXHOST as usize];
    let mut serv = [0u8; NI_MAXSERV];
    // SAFETY: `raw` is a valid address; the buffers have the lengths passed.
    let code = unsafe {
        libc::getnameinfo(
            raw.as_ptr(),
            raw.len,
            host.as_mut_ptr().cast(),
            host.len() as libc::socklen_t,
            serv.as_mut_ptr().cast(),
            serv.len() as libc::socklen_t,
            flags,
        )
    };
    if code != 0 {
        return Err(GaiError::from_code(code, last_errno()));
    }
    let text = |buf: &[u8]| {
        CStr::from_bytes_until_nul(buf)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    Ok((text(&host), text(&serv)))
}

// The reentrant host and service database calls: glibc (and musl) have
// them, the `libc` crate does not declare them for Linux.
unsafe extern "C" {
    fn gethostbyname_r(
        name: *const libc::c_char,
        ret: *mut libc::hostent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn gethostbyaddr_r(
        addr: *const c_void,
        len: libc::socklen_t,
        kind: c_int,
        ret: *mut libc::hostent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn getservbyname_r(
        name: *const libc::c_char,
        proto: *const libc::c_char,
        ret: *mut libc::servent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
    fn getservbyport_r(
        port: c_int,
        proto: *const libc::c_char,
        ret: *mut libc::servent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
}

/// A host database entry (mirrors the WIT `hostent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostEnt {
    pub(crate) name: String,
    pub(crate) aliases: Vec<String>,
    pub(crate) addresses: Vec<SockAddr>,
}

/// The largest buffer the reentrant lookups get (they say `ERANGE` until
/// the buffer is big enough).
pub(super) const MAX_LOOKUP_BUF: usize = 1 << 20;

/// Copies a `hostent` out of C memory.
///
/// # Safety
///
/// `h` must be a valid `hostent` whose strings and lists are alive.
unsafe fn copy_hostent(h: &libc::hostent) -> HostEnt {
    let text = |p: *const libc::c_char| {
        // SAFETY: (caller) the strings of `h` are valid C strings.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    };
    let mut aliases = Vec::new();
    let mut addresses = Vec::new();
    // SAFETY: (caller) NULL-terminated lists of valid pointers.
    unsafe {
        let mut p = h.h_aliases;
        while !p.is_null() && !(*p).is_null() {
            aliases.push(text(*p));
            p = p.add(1);
        }
        let mut p = h.h_addr_list;
        while !p.is_null() && !(*p).is_null() {
            let a = (*p).cast::<u8>();
            match (h.h_addrtype, h.h_length) {
                (libc::AF_INET, 4) => {
                    let b = std::slice::from_raw_parts(a, 4);
                    addresses.push(SockAddr::Inet(SocketAddrV4::new(
                        Ipv4Addr::new(b[0], b[1], b[2], b[3]),
                        0,
                    )));
                }
                (libc::AF_INET6, 16) => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(std::slice::from_raw_parts(a, 16));
                    addresses.push(SockAddr::Inet6(SocketAddrV6::new(
                        Ipv6Addr::from(b),
                        0,
                        0,
                        0,
                    )));
                }
                _ => {}
            }
            p = p.add(1);
        }
    }
    HostEnt {
        name: if h.h_name.is_null() {
            String::new()
        } else {
            text(h.h_name)
        },
        aliases,
        addresses,
    }
}

/// Runs a reentrant `hostent` lookup with a growing buffer.
pub(super) fn host_lookup(
    mut call: impl FnMut(
        *mut libc::hostent,
        *mut libc::c_char,
        usize,
        *mut *mut libc::hostent,
        *mut c_int,
    ) -> c_int,
) -> Result<HostEnt, HostError> {
    let mut len = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; len];
        // SAFETY: `hostent` is plain old data; all zeroes is valid.
        let mut ent: libc::hostent = unsafe { mem::zeroed() };
        let mut result: *mut libc::hostent = std::ptr::null_mut();
        let mut h_errno: c_int = 0;
        let rc = call(&mut ent, buf.as_mut_ptr(), len, &mut result, &mut h_errno);
        if rc == libc::ERANGE && len < MAX_LOOKUP_BUF {
            len *= 4;
            continue;
        }
        if result.is_null() {
            return Err(HostError::h_errno(if h_errno == 0 { 1 } else { h_errno }));
        }
        // SAFETY: `result` points to `ent`, whose data lives in `buf`.
        return Ok(unsafe { copy_hostent(&*result) });
    }
}

/// `gethostbyname_r(name)`.
pub(crate) fn gethostbyname(name: &str) -> Result<HostEnt, HostError> {
    let name = CString::new(name).map_err(|_| HostError::h_errno(1))?;
    host_lookup(|ent, buf, len, result, h_errno| {
        // SAFETY: the pointers are valid for the lengths given.
        unsafe { gethostbyname_r(name.as_ptr(), ent, buf, len, result, h_errno) }
    })
}

/// `gethostbyaddr_r(address)` for an IPv4 or IPv6 address.
pub(crate) fn gethostbyaddr(address: &SockAddr) -> Result<HostEnt, HostError> {
    let (bytes, family): (Vec<u8>, c_int) = match address {
        SockAddr::Inet(a) => (a.ip().octets().to_vec(), libc::AF_INET),
        SockAddr::Inet6(a) => (a.ip().octets().to_vec(), libc::AF_INET6),
        _ => return Err(HostError::errno(libc::EAFNOSUPPORT)),
    };
    host_lookup(|ent, buf, len, result, h_errno| {
        // SAFETY: the pointers are valid for the lengths given.
        unsafe {
            gethostbyaddr_r(
                bytes.as_ptr().cast(),
                bytes.len() as libc::socklen_t,
                family,
                ent,
                buf,
                len,
                result,
                h_errno,
            )
        }
    })
}

/// Runs a reentrant `servent` lookup; `None` when not found.
pub(super) fn serv_lookup(
    mut call: impl FnMut(*mut libc::servent, *mut libc::c_char, usize, *mut *mut libc::servent) -> c_int,
) -> Option<(String, u16)> {
    let mut len = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; len];
        // SAFETY: `servent` is plain old data; all zeroes is valid.
        let mut ent: libc::servent = unsafe { mem::zeroed() };
        let mut result: *mut libc::servent = std::ptr::null_mut();
        let rc = call(&mut ent, buf.as_mut_ptr(), len, &mut result);
        if rc == libc::ERANGE && len < MAX_LOOKUP_BUF {
            len *= 4;
            continue;
        }
        if result.is_null() {
            return None;
        }
        // SAFETY: `result` points to `ent`, whose strings live in `buf`.
        let ent = unsafe { &*result };
        // SAFETY: `s_name` is a valid C string.
        let name = unsafe { CStr::from_ptr(ent.s_name) }
            .to_string_lossy()
            .into_owned();
        // `s_port` is in network byte order, in the low 16 bits.
        return Some((name, u16::from_be(ent.s_port as u16)));
    }
}

/// `getservbyname_r(name, proto)`: the port.
pub(crate) fn getservbyname(name: &str, proto: Option<&str>) -> Option<u16> {
    let name = CString::new(name).ok()?;
    let proto = proto.map(CString::new).transpose().ok()?;
    serv_lookup(|ent, buf, len, result| {
        // SAFETY: the pointers are valid for the lengths given.
        unsafe {
            getservbyname_r(
                name.as_ptr(),
                proto.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                ent,
                buf,
                len,
                result,
            )
        }
    })
    .map(|(_, port)| port)
}

/// `getservbyport_r(htons(port), proto)`: the service name.
pub(crate) fn getservbyport(port: u16, proto: Option<&str>) -> Option<String> {
    let proto = proto.map(CString::new).transpose().ok()?;
    serv_lookup(|ent, buf, len, result| {
        // SAFETY: the pointers are valid for the lengths given.
        unsafe {
            getservbyport_r(
                c_int::from(port.to_be()),
                proto.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                ent,
                buf,
                len,
                result,
            )
        }
    })
    .map(|(name, _)| name)
}
