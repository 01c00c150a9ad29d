//! Socket addresses: `struct sockaddr_*` to and from [`SockAddr`].

use super::*;

/// `sizeof(struct sockaddr_storage)`.
pub(super) const STORAGE_LEN: usize = mem::size_of::<libc::sockaddr_storage>();
/// `offsetof(struct sockaddr_un, sun_path)`: the family field.
pub(super) const SUN_PATH_OFFSET: usize = mem::offset_of!(libc::sockaddr_un, sun_path);
/// `sizeof(((struct sockaddr_un *)0)->sun_path)`.
pub(super) const SUN_PATH_LEN: usize = mem::size_of::<libc::sockaddr_un>() - SUN_PATH_OFFSET;
/// Bytes after the family field that fit in a `sockaddr_storage`.
pub(super) const OTHER_MAX_LEN: usize = STORAGE_LEN - SUN_PATH_OFFSET;

/// A socket address, as the kernel takes and returns it (mirrors the WIT
/// `sockaddr` variant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SockAddr {
    /// `AF_UNSPEC`, passed as the family field alone.
    Unspec,
    /// `struct sockaddr_in`.
    Inet(SocketAddrV4),
    /// `struct sockaddr_in6`; `flowinfo` in host byte order.
    Inet6(SocketAddrV6),
    /// The bytes of `sun_path` (see [`SockAddr::to_raw`] for their length rules).
    Unix(Vec<u8>),
    /// Another family: its number and the bytes after the family field.
    Other(i32, Vec<u8>),
}

/// A `sockaddr_storage` with the length to pass along with it.
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    pub(super) len: libc::socklen_t,
}

impl RawAddr {
    pub(super) fn zeroed() -> RawAddr {
        RawAddr {
            // SAFETY: `sockaddr_storage` is plain old data; all zeroes is valid.
            storage: unsafe { mem::zeroed() },
            len: STORAGE_LEN as libc::socklen_t,
        }
    }

    pub(super) fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }

    pub(super) fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&raw mut self.storage).cast()
    }

    pub(super) fn bytes_mut(&mut self) -> &mut [u8; STORAGE_LEN] {
        // SAFETY: `sockaddr_storage` is plain old data of exactly
        // `STORAGE_LEN` bytes, suitably aligned for `u8`.
        unsafe { &mut *(&raw mut self.storage).cast::<[u8; STORAGE_LEN]>() }
    }

    /// The address as the kernel is given it: `len` bytes of the storage.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes()[..usize::try_from(self.len).unwrap_or(0).min(STORAGE_LEN)]
    }

    /// An address from bytes as [`RawAddr::as_bytes`] gives them (at most
    /// a `sockaddr_storage`'s worth).
    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: &[u8]) -> RawAddr {
        let mut raw = RawAddr::zeroed();
        let len = bytes.len().min(STORAGE_LEN);
        raw.bytes_mut()[..len].copy_from_slice(&bytes[..len]);
        raw.len = len as libc::socklen_t;
        raw
    }

    pub(super) fn bytes(&self) -> &[u8; STORAGE_LEN] {
        // SAFETY: as in `bytes_mut`.
        unsafe { &*(&raw const self.storage).cast::<[u8; STORAGE_LEN]>() }
    }
}

impl SockAddr {
    /// Encodes the address for the kernel.
    ///
    /// Unix pathnames get a NUL terminator and `addrlen =
    /// offsetof(sun_path) + len + 1`; abstract names (first byte NUL) and the
    /// empty name (autobind) get `offsetof(sun_path) + len`. A name that does
    /// not fit `sun_path` is `EINVAL`, as is an `other` address too long for
    /// a `sockaddr_storage`; an `other` family outside `sa_family_t` is
    /// `EAFNOSUPPORT`.
    pub(crate) fn to_raw(&self) -> Result<RawAddr, Errno> {
        let mut raw = RawAddr::zeroed();
        let len = match self {
            SockAddr::Unspec => {
                raw.storage.ss_family = libc::AF_UNSPEC as libc::sa_family_t;
                mem::size_of::<libc::sa_family_t>()
            }
            SockAddr::Inet(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `sockaddr_storage` is larger than and aligned for
                // every sockaddr type.
                unsafe { raw.as_mut_ptr().cast::<libc::sockaddr_in>().write(sin) };
                mem::size_of::<libc::sockaddr_in>()
            }
            SockAddr::Inet6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo().to_be(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above.
                unsafe { raw.as_mut_ptr().cast::<libc::sockaddr_in6>().write(sin6) };
                mem::size_of::<libc::sockaddr_in6>()
            }
            SockAddr::Unix(path) => {
                let pathname = path.first().is_some_and(|&b| b != 0);
                let needed = path.len() + usize::from(pathname);
                if needed > SUN_PATH_LEN {
                    return Err(libc::EINVAL);
                }
                raw.storage.ss_family = libc::AF_UNIX as libc::sa_family_t;
                // The storage is zeroed, so a pathname is NUL-terminated.
                raw.bytes_mut()[SUN_PATH_OFFSET..SUN_PATH_OFFSET + path.len()]
                    .copy_from_slice(path);
                SUN_PATH_OFFSET + needed
            }
            SockAddr::Other(family, data) => {
                let family =
                    libc::sa_family_t::try_from(*family).map_err(|_| libc::EAFNOSUPPORT)?;
                if data.len() > OTHER_MAX_LEN {
                    return Err(libc::EINVAL);
                }
                raw.storage.ss_family = family;
                raw.bytes_mut()[SUN_PATH_OFFSET..SUN_PATH_OFFSET + data.len()]
                    .copy_from_slice(data);
                SUN_PATH_OFFSET + data.len()
            }
        };
        raw.len = len as libc::socklen_t;
        Ok(raw)
    }

    /// Decodes what the kernel returned. An `addrlen` shorter than the
    /// family field is `Unspec`; an `AF_INET`/`AF_INET6` address too short
    /// for its struct is returned as `Other`.
    pub(crate) fn from_raw(raw: &RawAddr) -> SockAddr {
        let len = usize::try_from(raw.len).unwrap_or(0).min(STORAGE_LEN);
        if len < SUN_PATH_OFFSET {
            return SockAddr::Unspec;
        }
        let family = c_int::from(raw.storage.ss_family);
        let tail = &raw.bytes()[SUN_PATH_OFFSET..len];
        match family {
            libc::AF_UNSPEC => SockAddr::Unspec,
            libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the kernel wrote a `sockaddr_in` (family and length checked).
                let sin = unsafe { &*raw.as_ptr().cast::<libc::sockaddr_in>() };
                SockAddr::Inet(SocketAddrV4::new(
                    Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                    u16::from_be(sin.sin_port),
                ))
            }
            libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: the kernel wrote a `sockaddr_in6` (family and length checked).
                let sin6 = unsafe { &*raw.as_ptr().cast::<libc::sockaddr_in6>() };
                SockAddr::Inet6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    u32::from_be(sin6.sin6_flowinfo),
                    sin6.sin6_scope_id,
                ))
            }
            libc::AF_UNIX => SockAddr::Unix(tail.to_vec()),
            _ => SockAddr::Other(family, tail.to_vec()),
        }
    }
}
