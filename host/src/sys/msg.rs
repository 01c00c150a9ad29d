//! `sendmsg`/`recvmsg` with ancillary data, and message lengths.

use super::*;

/// One ancillary data item (mirrors the WIT `cmsg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cmsg {
    pub(crate) level: i32,
    pub(crate) kind: i32,
    pub(crate) data: Vec<u8>,
}

/// What one `recvmsg` received (mirrors the WIT `message`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) data: Vec<u8>,
    /// What the call returned (more than `data.len()` with `MSG_TRUNC`).
    pub(crate) length: usize,
    pub(crate) ancillary: Vec<Cmsg>,
    pub(crate) flags: i32,
    pub(crate) address: SockAddr,
}

/// `CMSG_SPACE(len)`, or `EINVAL` when it does not fit a C unsigned int.
pub(super) fn cmsg_space(len: usize) -> Result<usize, Errno> {
    let len = u32::try_from(len).map_err(|_| libc::EINVAL)?;
    // SAFETY: pure arithmetic.
    Ok(unsafe { libc::CMSG_SPACE(len) } as usize)
}

/// `sendmsg(fd, msg, flags | MSG_NOSIGNAL)`.
pub(crate) fn sendmsg(
    fd: BorrowedFd<'_>,
    buffers: &[&[u8]],
    ancillary: &[&Cmsg],
    flags: i32,
    address: Option<&SockAddr>,
) -> Result<usize, Errno> {
    let raw = address.map(SockAddr::to_raw).transpose()?;
    let mut iov: Vec<libc::iovec> = buffers
        .iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr().cast_mut().cast(),
            iov_len: b.len(),
        })
        .collect();
    let space = ancillary.iter().try_fold(0usize, |acc, c| {
        Ok::<_, Errno>(acc.saturating_add(cmsg_space(c.data.len())?))
    })?;
    // `u64` elements keep the control buffer aligned for `cmsghdr`.
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: `msghdr` is plain old data; all zeroes is valid.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    if let Some(raw) = &raw {
        msg.msg_name = raw.as_ptr().cast_mut().cast();
        msg.msg_namelen = raw.len;
    }
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len() as _;
    if space > 0 {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer has room for every item's
        // `CMSG_SPACE`, so `CMSG_FIRSTHDR`/`CMSG_NXTHDR` stay inside it.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            for item in ancillary {
                if cmsg.is_null() {
                    return Err(libc::EINVAL);
                }
                (*cmsg).cmsg_level = item.level;
                (*cmsg).cmsg_type = item.kind;
                (*cmsg).cmsg_len = libc::CMSG_LEN(item.data.len() as u32) as _;
                std::ptr::copy_nonoverlapping(
                    item.data.as_ptr(),
                    libc::CMSG_DATA(cmsg),
                    item.data.len(),
                );
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
    }
    // SAFETY: every pointer in `msg` is valid for the lengths given.
    cvt_len(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags | libc::MSG_NOSIGNAL) })
}

/// `recvmsg(fd, msg, flags)` with `length` bytes of data buffer and
/// `ancillary_length` bytes of control buffer.
///
/// Received fds (`SCM_RIGHTS`) are returned as they are in the data: the
/// caller must take ownership of them (see [`scm_rights_fds`]).
pub(crate) fn recvmsg(
    fd: BorrowedFd<'_>,
    length: usize,
    ancillary_length: usize,
    flags: i32,
) -> Result<Message, Errno> {
    let mut buf = Vec::<u8>::with_capacity(length);
    let mut control = vec![0u64; ancillary_length.div_ceil(8)];
    let mut raw = RawAddr::zeroed();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: length,
    };
    // SAFETY: `msghdr` is plain old data; all zeroes is valid.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = raw.as_mut_ptr().cast();
    msg.msg_namelen = raw.len;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if ancillary_length > 0 {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = ancillary_length as _;
    }
    // SAFETY: every pointer in `msg` is valid for the lengths given.
    let got = cvt_len(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) })?;
    // SAFETY: the kernel initialized the first `min(got, length)` bytes.
    unsafe { buf.set_len(got.min(length)) };
    raw.len = msg.msg_namelen.min(STORAGE_LEN as libc::socklen_t);
    let mut ancillary = Vec::new();
    let control_end = (control.as_ptr() as usize).saturating_add(msg.msg_controllen as usize);
    // SAFETY: the kernel wrote `msg_controllen` bytes of well-formed
    // headers; each item's data is clamped to what lies inside the buffer
    // (a truncated last item, `MSG_CTRUNC`).
    unsafe {
        let mut cmsg = if msg.msg_controllen == 0 {
            std::ptr::null_mut()
        } else {
            libc::CMSG_FIRSTHDR(&msg)
        };
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            let header_end = data as usize;
            let item_end = (cmsg as usize).saturating_add((*cmsg).cmsg_len as usize);
            let len = item_end.min(control_end).saturating_sub(header_end);
            ancillary.push(Cmsg {
                level: (*cmsg).cmsg_level,
                kind: (*cmsg).cmsg_type,
                data: std::slice::from_raw_parts(data, len).to_vec(),
            });
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    let address = if msg.msg_namelen == 0 {
        SockAddr::Unspec
    } else {
        SockAddr::from_raw(&raw)
    };
    Ok(Message {
        data: buf,
        length: got,
        ancillary,
        flags: msg.msg_flags,
        address,
    })
}

/// The fds in an `SCM_RIGHTS` item's data (whole C ints only).
pub(crate) fn scm_rights_fds(data: &[u8]) -> impl Iterator<Item = RawFd> + '_ {
    const N: usize = mem::size_of::<c_int>();
    data.as_chunks::<N>()
        .0
        .iter()
        .map(|c| c_int::from_ne_bytes(*c))
}

/// Takes ownership of an fd the kernel just installed in this process
/// (`SCM_RIGHTS`).
pub(crate) fn adopt_fd(fd: RawFd) -> OwnedFd {
    owned(fd)
}

/// The length of the next message on a datagram or seqpacket socket, without
/// taking it: `recv(fd, buf, 1, flags | MSG_PEEK | MSG_TRUNC)` (Linux then
/// returns the real length).
pub(crate) fn next_message_len(fd: BorrowedFd<'_>, flags: i32) -> Result<usize, Errno> {
    let mut byte = [0u8; 1];
    // SAFETY: `byte` has room for 1 byte.
    cvt_len(unsafe {
        libc::recv(
            fd.as_raw_fd(),
            byte.as_mut_ptr().cast(),
            1,
            (flags & !libc::MSG_TRUNC) | libc::MSG_PEEK | libc::MSG_TRUNC,
        )
    })
}
