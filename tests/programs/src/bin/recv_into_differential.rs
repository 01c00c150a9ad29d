//! `recv_into`, `recvfrom_into` and `recvmsg_into` with a binding-side
//! buffer, differentially: the helpers below do what a binding does (copy
//! the returned bytes into its buffer, return `nbytes`), and the program
//! prints what `host/tests/differential/recv_into_differential.py` prints
//! for CPython, in every timeout mode, with `MSG_PEEK` and `MSG_TRUNC`,
//! after a half close and on a closed socket.

use nativesock_test_programs::nativesock::socket::socket::{self as ns, Message};
use nativesock_test_programs::py;
use nativesock_test_programs::*;

fn c(name: &str) -> i64 {
    constant(name).unwrap_or_else(|| panic!("no constant {name}"))
}

/// `sock.recv_into(buf, nbytes, flags)` as a binding implements it.
fn recv_into(
    s: &Socket,
    buf: &mut [u8],
    nbytes: Option<i64>,
    flags: Option<i64>,
) -> Result<u64, Error> {
    let r = s.recv_into(
        buf.len() as u64,
        nbytes.map(int).as_ref(),
        flags.map(int).as_ref(),
    )?;
    buf[..r.data.len()].copy_from_slice(&r.data);
    Ok(r.nbytes)
}

/// `sock.recvfrom_into(buf, nbytes, flags)`.
fn recvfrom_into(
    s: &Socket,
    buf: &mut [u8],
    nbytes: Option<i64>,
    flags: Option<i64>,
) -> Result<(u64, Option<Address>), Error> {
    let (r, address) = s.recvfrom_into(
        buf.len() as u64,
        nbytes.map(int).as_ref(),
        flags.map(int).as_ref(),
    )?;
    buf[..r.data.len()].copy_from_slice(&r.data);
    Ok((r.nbytes, address))
}

/// `sock.recvmsg_into(buffers, 0, flags)`: the data scattered in order.
fn recvmsg_into(s: &Socket, bufs: &mut [&mut [u8]], flags: Option<i64>) -> Result<Message, Error> {
    let lengths: Vec<u64> = bufs.iter().map(|b| b.len() as u64).collect();
    let msg = s.recvmsg_into(&lengths, None, flags.map(int).as_ref())?;
    let mut rest = &msg.data[..];
    for b in bufs.iter_mut() {
        let n = rest.len().min(b.len());
        b[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
    Ok(msg)
}

fn opt_addr(a: &Option<Address>) -> String {
    a.as_ref().map_or("None".into(), py::addr)
}

fn msg_tuple(m: &Message, first: String) -> String {
    assert!(m.ancdata.is_empty());
    py::tuple(&[
        first,
        "[]".into(),
        m.msg_flags.to_string(),
        opt_addr(&m.address),
    ])
}

fn main() {
    let (a, b) = ns::socketpair(None, None, None).expect("socketpair()");
    let mut buf = vec![0u8; 8];
    a.send(b"hello", None).unwrap();
    let r = recv_into(&b, &mut buf, None, None);
    py::show("b.recv_into(buf)", r, |n| {
        py::tuple(&[n.to_string(), py::b(&buf)])
    });
    a.send(b"world!", None).unwrap();
    let r = recv_into(&b, &mut buf, Some(3), None);
    py::show("b.recv_into(buf, 3)", r, |n| {
        py::tuple(&[n.to_string(), py::b(&buf)])
    });
    py::show(
        "b.recv_into(buf, 9)",
        recv_into(&b, &mut buf, Some(9), None),
        u64::to_string,
    );
    py::show(
        "b.recv_into(buf, -1)",
        recv_into(&b, &mut buf, Some(-1), None),
        u64::to_string,
    );
    py::show(
        "b.recv_into(buf, -1, 2**31)",
        recv_into(&b, &mut buf, Some(-1), Some(1 << 31)),
        u64::to_string,
    );
    let r = recv_into(&b, &mut buf, Some(0), Some(c("MSG_PEEK")));
    py::show("b.recv_into(buf, 0, MSG_PEEK)", r, |n| {
        py::tuple(&[n.to_string(), py::b(&buf)])
    });
    let mut two = vec![0u8; 2];
    let r = recv_into(&b, &mut two, None, None);
    py::show("b.recv_into(bytearray(2))", r, |n| {
        py::tuple(&[n.to_string(), py::b(&two)])
    });
    py::show(
        "b.recv_into(bytearray(0))",
        recv_into(&b, &mut [], None, None),
        u64::to_string,
    );
    b.settimeout(&Value::Int(0)).unwrap();
    let r = recv_into(&b, &mut buf, None, None);
    py::show("b.recv_into(buf) [non-blocking]", r, |n| {
        py::tuple(&[n.to_string(), py::b(&buf)])
    });
    py::show(
        "b.recv_into(buf) [non-blocking, empty]",
        recv_into(&b, &mut buf, None, None),
        u64::to_string,
    );
    b.settimeout(&float(0.2)).unwrap();
    py::show(
        "b.recv_into(buf) [timeout]",
        recv_into(&b, &mut buf, None, None),
        u64::to_string,
    );
    py::show(
        "b.recvfrom_into(buf) [timeout]",
        recvfrom_into(&b, &mut buf, None, None),
        |(n, _)| n.to_string(),
    );
    b.settimeout(&Value::None).unwrap();
    a.shutdown(&int(c("SHUT_WR"))).unwrap();
    py::show(
        "b.recv_into(buf) [half closed]",
        recv_into(&b, &mut buf, None, None),
        u64::to_string,
    );

    let (cs, d) = ns::socketpair(Some(&int(c("AF_UNIX"))), Some(&int(c("SOCK_DGRAM"))), None)
        .expect("socketpair(AF_UNIX, SOCK_DGRAM)");
    let mut buf = vec![0u8; 8];
    let from = |buf: &[u8], (n, addr): &(u64, Option<Address>)| {
        py::tuple(&[py::tuple(&[n.to_string(), opt_addr(addr)]), py::b(buf)])
    };
    cs.send(b"0123456789", None).unwrap();
    let r = recvfrom_into(&d, &mut buf, None, None);
    py::show("d.recvfrom_into(buf)", r, |x| from(&buf, x));
    cs.send(b"abcdefghij", None).unwrap();
    let r = recvfrom_into(&d, &mut buf, Some(4), None);
    py::show("d.recvfrom_into(buf, 4)", r, |x| from(&buf, x));
    py::show(
        "d.recvfrom_into(buf, 9)",
        recvfrom_into(&d, &mut buf, Some(9), None),
        |x| from(&buf, x),
    );
    py::show(
        "d.recvfrom_into(buf, -1)",
        recvfrom_into(&d, &mut buf, Some(-1), None),
        |x| from(&buf, x),
    );
    let trunc = Some(c("MSG_TRUNC"));
    cs.send(b"0123456789", None).unwrap();
    let mut four = vec![0u8; 4];
    let r = recv_into(&d, &mut four, Some(2), trunc);
    py::show("d.recv_into(bytearray(4), 2, MSG_TRUNC)", r, |n| {
        py::tuple(&[n.to_string(), py::b(&four)])
    });
    cs.send(b"0123456789", None).unwrap();
    let mut four = vec![0u8; 4];
    let r = recvfrom_into(&d, &mut four, Some(0), trunc);
    py::show("d.recvfrom_into(bytearray(4), 0, MSG_TRUNC)", r, |x| {
        from(&four, x)
    });
    cs.send(b"hello", None).unwrap();
    let (mut x, mut y) = (vec![0u8; 2], vec![0u8; 2]);
    let r = recvmsg_into(&d, &mut [&mut x, &mut y], None);
    py::show("d.recvmsg_into([bytearray(2), bytearray(2)])", r, |m| {
        py::tuple(&[msg_tuple(m, m.nbytes.to_string()), py::b(&x), py::b(&y)])
    });
    cs.send(b"hi", None).unwrap();
    let (mut x, mut y) = (vec![0u8; 1], vec![0u8; 3]);
    let r = recvmsg_into(&d, &mut [&mut x, &mut y], None);
    py::show("d.recvmsg_into([bytearray(1), bytearray(3)])", r, |m| {
        py::tuple(&[msg_tuple(m, m.nbytes.to_string()), py::b(&x), py::b(&y)])
    });
    cs.send(b"0123456789", None).unwrap();
    let mut x = vec![0u8; 3];
    let r = recvmsg_into(&d, &mut [&mut x], trunc);
    py::show("d.recvmsg_into([bytearray(3)], 0, MSG_TRUNC)", r, |m| {
        py::tuple(&[msg_tuple(m, m.nbytes.to_string()), py::b(&x)])
    });
    cs.send(b"0123456789", None).unwrap();
    py::show(
        "d.recvmsg(3, 0, MSG_TRUNC)",
        d.recvmsg(&int(3), Some(&int(0)), trunc.map(int).as_ref()),
        |m| msg_tuple(m, py::b(&m.data)),
    );

    let u = udp();
    u.sendto(b"xyz", None, &u.getsockname().unwrap()).unwrap();
    let r = recvfrom_into(&u, &mut buf, None, None);
    py::show("u.recvfrom_into(buf)", r, |(n, addr)| {
        let host = addr.as_ref().map_or_else(|| opt_addr(addr), py::host);
        py::tuple(&[n.to_string(), host, py::b(&buf)])
    });

    // CPython's bytes past `bufsize` are uninitialised: only their count
    // and the received head are compared.
    cs.send(b"0123456789", None).unwrap();
    py::show(
        "len(d.recv(2, MSG_TRUNC))",
        d.recv(&int(2), trunc.map(int).as_ref()),
        |v| v.len().to_string(),
    );
    cs.send(b"0123456789", None).unwrap();
    py::show(
        "d.recv(2, MSG_TRUNC)[:2]",
        d.recv(&int(2), trunc.map(int).as_ref()),
        |v| py::b(&v[..2]),
    );

    b.close().unwrap();
    py::show(
        "b.recv_into(bytearray(0)) [closed]",
        recv_into(&b, &mut [], None, None),
        u64::to_string,
    );
    py::show(
        "b.recv_into(buf) [closed]",
        recv_into(&b, &mut buf, None, None),
        u64::to_string,
    );
    py::show(
        "b.recvfrom_into(bytearray(0)) [closed]",
        recvfrom_into(&b, &mut [], None, None),
        |(n, _)| n.to_string(),
    );
    py::show(
        "b.recvmsg_into([]) [closed]",
        recvmsg_into(&b, &mut [], None),
        |m| msg_tuple(m, m.nbytes.to_string()),
    );
}
