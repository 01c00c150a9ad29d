"""The bench's Python program: run by CPython natively and, built with
bindings/python/build, by the Python binding on nativesock. It times its
own loop and prints the nanoseconds.

    socket_bench.py getsockname 0 N
    socket_bench.py connect PORT N
    socket_bench.py sendall|send|sendmsg PORT BYTES CHUNK
    socket_bench.py recv|recv-into|recvmsg PORT BYTES CHUNK
"""

import socket
import sys
import time

mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chunk = int(sys.argv[4]) if len(sys.argv) > 4 else 0
addr = ("127.0.0.1", port)
if mode == "getsockname":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    t = time.perf_counter_ns()
    for _ in range(n):
        s.getsockname()
elif mode == "connect":
    t = time.perf_counter_ns()
    for _ in range(n):
        s = socket.socket()
        s.connect(addr)
        s.close()
elif mode in ("sendall", "send", "sendmsg"):
    s = socket.create_connection(addr)
    buf = memoryview(b"\x5a" * chunk)
    left = n
    t = time.perf_counter_ns()
    while left > 0:
        piece = buf[: min(left, chunk)]
        if mode == "sendall":
            s.sendall(piece)
        else:
            while piece:
                sent = s.send(piece) if mode == "send" else s.sendmsg([piece])
                piece = piece[sent:]
        left -= min(left, chunk)
    s.shutdown(socket.SHUT_WR)
    assert s.recv(1) == b""
elif mode in ("recv", "recv-into", "recvmsg"):
    s = socket.create_connection(addr)
    buf = bytearray(chunk)
    got = 0
    t = time.perf_counter_ns()
    while got < n:
        if mode == "recv":
            k = len(s.recv(chunk))
        elif mode == "recv-into":
            k = s.recv_into(buf)
        else:
            k = len(s.recvmsg(chunk)[0])
        if not k:
            break
        got += k
    assert got == n
else:
    sys.exit(f"unknown mode {mode!r}")
print(time.perf_counter_ns() - t)
