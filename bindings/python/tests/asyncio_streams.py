"""asyncio's event loop on nativesock: TCP and unix stream servers and
clients, timeouts, and a refused connection. Argument 1 is a temporary
directory for AF_UNIX paths."""

import asyncio
import os
import socket
import sys

tmp = sys.argv[1]


async def handle(reader, writer):
    while line := await reader.readline():
        writer.write(b"echo: " + line)
        await writer.drain()
    peer = writer.get_extra_info("peername")
    print("server saw EOF", type(peer).__name__)
    writer.close()
    await writer.wait_closed()


async def client(open_conn, label):
    reader, writer = await open_conn()
    for word in (b"alpha", b"beta"):
        writer.write(word + b"\n")
        await writer.drain()
        print(label, await reader.readline())
    writer.write_eof()
    print(label, "eof", await reader.read())
    writer.close()
    await writer.wait_closed()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print("serving", server.sockets[0].family == socket.AF_INET)
    async with server:
        await asyncio.gather(
            client(lambda: asyncio.open_connection("127.0.0.1", port), "tcp1"),
            client(lambda: asyncio.open_connection("127.0.0.1", port), "tcp2"),
        )

    path = os.path.join(tmp, "asyncio.sock")
    server = await asyncio.start_unix_server(handle, path)
    async with server:
        await client(lambda: asyncio.open_unix_connection(path), "unix")

    # Timeouts: a read nobody answers (the server keeps its writer open).
    kept = []
    server = await asyncio.start_server(lambda r, w: kept.append(w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await asyncio.wait_for(reader.read(1), 0.05)
    except TimeoutError:
        print("read timed out")
    writer.close()
    for w in kept:
        w.close()
    server.close()
    await server.wait_closed()

    try:
        await asyncio.open_connection("127.0.0.1", 1)
    except ConnectionRefusedError as e:
        print("refused", type(e).__name__, e)

    # Low-level loop methods on a socket pair.
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    await loop.sock_sendall(a, b"raw bytes")
    print("sock_recv", await loop.sock_recv(b, 100))
    a.close()
    b.close()


asyncio.run(main())
print("loop closed")
