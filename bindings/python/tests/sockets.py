"""A plain socket program: built with bindings/python/build and run under
`nativesock run`, it must print what `python3` prints running it natively.
Argument 1 is a temporary directory for AF_UNIX paths."""

import array
import errno
import os
import socket
import sys

tmp = sys.argv[1]
print("argv", len(sys.argv), os.path.basename(sys.argv[0]))

# TCP on loopback: the helpers of Lib/socket.py.
srv = socket.create_server(("127.0.0.1", 0), backlog=5)
print("server", srv.family, srv.type, srv.getsockname()[0], srv.gettimeout())
port = srv.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port), timeout=5)
conn, addr = srv.accept()
print("accepted", type(conn).__name__, conn.type, addr[0], conn.gettimeout(), c.gettimeout())
c.sendall(b"line one\nline two\n")
with conn.makefile("r", encoding="ascii", newline="\n") as f:
    print("lines", repr(f.readline()), repr(f.readline()))
conn.sendall(b"abcdef")
buf = bytearray(4)
print("recv_into", c.recv_into(buf), bytes(buf), c.recv(10))
c.shutdown(socket.SHUT_WR)
print("eof", conn.recv(10))
print("nodelay", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print("nodelay", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0)
d = c.dup()
print("dup", d.fileno() != c.fileno(), d.get_inheritable(), d.family)
d.close()
print("closed", d.fileno(), repr(d)[:40])

# Errors: the built-in classes with the host's errno.
try:
    socket.create_connection(("127.0.0.1", 1), timeout=5)
except ConnectionRefusedError as e:
    print("refused", e.errno == errno.ECONNREFUSED, errno.errorcode[e.errno], e)
try:
    c.connect(("127.0.0.1", 70000))
except OverflowError as e:
    print("port", e)
try:
    socket.socket(fileno=-(2**63) - 1)
except OverflowError as e:
    print("fileno", e)
try:
    c.recv([1])
except TypeError as e:
    print("type", e)
try:
    c.send("text")
except TypeError as e:
    print("type", e)
for call in (lambda: c.recv(1, None), lambda: c.getsockopt(1, 3, None)):
    try:
        call()
    except TypeError as e:
        print("explicit None", e)
t = socket.socket()
t.settimeout(0.05)
t.bind(("127.0.0.1", 0))
t.listen()
try:
    t.accept()
except socket.timeout as e:
    print("timeout", repr(e), isinstance(e, OSError))
t.setblocking(False)
try:
    t.accept()
except BlockingIOError as e:
    print("blocking", e.errno == errno.EAGAIN, e.strerror)
print("timeouts", t.gettimeout(), t.getblocking())

# Datagrams.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.sendto(b"datagram", u.getsockname())
data, sender = u.recvfrom(100)
print("dgram", data, sender == v.getsockname())

# AF_UNIX, a path and fd passing.
path = os.path.join(tmp, "s.sock")
ul = socket.socket(socket.AF_UNIX)
ul.bind(path)
ul.listen()
uc = socket.socket(socket.AF_UNIX)
uc.connect(path)
us, _ = ul.accept()
print("unix", us.family, uc.getpeername() == path)
socket.send_fds(uc, [b"fd"], [u.fileno()])
msg, fds, flags, _ = socket.recv_fds(us, 10, 4)
got = socket.socket(fileno=fds[0])
print("fds", msg, len(fds), flags, got.type, got.getsockname() == u.getsockname())
a, b = socket.socketpair()
a.sendmsg([b"x", b"yz"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [a.fileno()]))])
parts = [bytearray(2), bytearray(2)]
n, anc, flags, _ = b.recvmsg_into(parts, socket.CMSG_SPACE(4))
rights = anc[0][:2] == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
print("recvmsg_into", n, [bytes(p) for p in parts], len(anc), rights)

# Name services that need no lookup.
print(socket.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM))
print(socket.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV))
print(socket.getservbyname("http", "tcp"), socket.getservbyport(443, "tcp"))
print(socket.inet_aton("127.0.0.1") if hasattr(socket, "inet_aton") else "no inet_aton")
for s in (srv, c, conn, t, u, v, ul, uc, us, got, a, b):
    s.close()
sys.exit("done: exit status 1 with this on stderr")
