"""An uncaught exception: the traceback on stderr and exit status 1, as
`python3` gives them; what was printed before it comes first."""

import socket

print("before", socket.AF_INET, socket.SOCK_DGRAM)
a, b = socket.socketpair()
a.close()


def fail(sock):
    sock.send(b"x")


fail(a)
