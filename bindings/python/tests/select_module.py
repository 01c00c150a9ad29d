"""`select.select` and `select.poll` on sockets, with CPython's results and
errors. Argument 1 is a temporary directory (unused)."""

import errno
import os
import select
import socket

a, b = socket.socketpair()
print("idle", select.select([a, b], [], [], 0))
print("writable", select.select([], [a, b.fileno()], [], 0) == ([], [a, b.fileno()], []))
b.send(b"x")
r, w, x = select.select([a, a, b], [a], [a], 1.5)
print("ready", r == [a, a], w == [a], x)
print("timeout", select.select([b], [], [], 0.01))

p = select.poll()
p.register(a, select.POLLIN)
p.register(b.fileno())
events = p.poll(1000)
print("poll", sorted((fd == a.fileno(), ev) for fd, ev in events))
p.modify(b, select.POLLIN)
print("poll after modify", [fd == a.fileno() for fd, _ in p.poll(0)])
p.unregister(a)
print("poll after unregister", p.poll(0.5))
print("poll type", type(p).__name__, type(p).__module__)

# A socket whose peer closed: readable (EOF), and POLLHUP-free until shutdown.
a.recv(1)
b.close()
print("eof readable", select.select([a], [], [], 1) == ([a], [], []), a.recv(1))

# A closed fd: EBADF for select, POLLNVAL for poll.
s = socket.socket()
fd = s.fileno()
s.close()
try:
    select.select([fd], [], [], 0)
except OSError as e:
    text = os.strerror(errno.EBADF)
    print("select closed", type(e).__name__, e.errno == errno.EBADF, e.strerror == text)
p = select.poll()
p.register(fd)
print("poll closed", p.poll(0) == [(fd, select.POLLNVAL)])


def attempt(label, f):
    try:
        print(label, f())
    except Exception as e:  # noqa: BLE001 - printing what CPython raises
        print(label, type(e).__name__, e)


class Fileno:
    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd


class Raises:
    def fileno(self):
        raise KeyError("no fileno")


attempt("str timeout", lambda: select.select([], [], [], "x"))
attempt("negative timeout", lambda: select.select([], [], [], -1))
attempt("tiny negative timeout", lambda: select.select([], [], [], -1e-10))
attempt("minus zero timeout", lambda: select.select([], [], [], -0.0))
attempt("nan timeout", lambda: select.select([], [], [], float("nan")))
attempt("huge timeout", lambda: select.select([], [], [], 1e300))
attempt("huge int timeout", lambda: select.select([], [], [], 10**20))
attempt("negative fd", lambda: select.select([-1], [], [], 0))
attempt("big fd", lambda: select.select([2**31], [], [], 0))
attempt("bigger fd", lambda: select.select([2**70], [], [], 0))
attempt("fd past FD_SETSIZE", lambda: select.select([1024], [], [], 0))
attempt("float fd", lambda: select.select([1.5], [], [], 0))
attempt("not a sequence", lambda: select.select(5, [], [], 0))
attempt("too many", lambda: select.select([a] * 1025, [], [], 0))
attempt("generator", lambda: select.select((s for s in [a]), [], [], 0) == ([], [], []))
attempt("fileno object", lambda: len(select.select([], [Fileno(a.fileno())], [], 0)[1]))
attempt("fileno str", lambda: select.select([Fileno("3")], [], [], 0))
attempt("fileno negative", lambda: select.select([Fileno(-5)], [], [], 0))
attempt("fileno raises", lambda: select.select([Raises()], [], [], 0))

p = select.poll()
attempt("register negative", lambda: p.register(-1))
attempt("register negative mask", lambda: p.register(a, -1))
attempt("register big mask", lambda: p.register(a, 70000))
attempt("register huge mask", lambda: p.register(a, 2**64))
attempt("register str mask", lambda: p.register(a, "x"))
attempt("register float mask", lambda: p.register(a, 1.0))
attempt("register None mask", lambda: p.register(a, None))
attempt("register big fd", lambda: p.register(2**31))
attempt("register float fd", lambda: p.register(1.5))
attempt("modify unregistered", lambda: p.modify(a, 1))
attempt("unregister unregistered", lambda: p.unregister(12345))
attempt("poll str", lambda: p.poll("x"))
attempt("poll too large", lambda: p.poll(2**31))
attempt("poll too small", lambda: p.poll(-(2**40)))
attempt("poll huge", lambda: p.poll(10**30))
attempt("poll nan", lambda: p.poll(float("nan")))
attempt("poll inf", lambda: p.poll(float("inf")))
attempt("poll bool", lambda: p.poll(True))
attempt("strerror", lambda: os.strerror(errno.ECONNREFUSED))
attempt("strerror type", lambda: os.strerror("x"))
a.close()
