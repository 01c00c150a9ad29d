"""The standard library's servers on nativesock, in one thread: a
`selectors` echo loop, `socketserver` TCP and unix servers, and
`http.server` answered through `http.client`. Argument 1 is a temporary
directory for AF_UNIX paths."""

import http.client
import http.server
import io
import os
import selectors
import socket
import socketserver
import sys

tmp = sys.argv[1]

# selectors: a non-blocking echo server with three clients.
sel = selectors.DefaultSelector()
srv = socket.create_server(("127.0.0.1", 0))
srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ, "listener")
port = srv.getsockname()[1]
clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
for i, c in enumerate(clients):
    c.sendall(b"hello %d" % i)
echoed = 0
while echoed < 3:
    for key, _ in sel.select(timeout=5):
        if key.data == "listener":
            conn, _ = srv.accept()
            conn.setblocking(False)
            sel.register(conn, selectors.EVENT_READ, "conn")
        else:
            data = key.fileobj.recv(100)
            key.fileobj.sendall(data.upper())
            echoed += 1
print("echo", sorted(c.recv(100) for c in clients))
print("selector map", sorted(k.data for k in sel.get_map().values()))
for key in list(sel.get_map().values()):
    sel.unregister(key.fileobj)
    key.fileobj.close()
sel.close()
for c in clients:
    c.close()


# socketserver: one request at a time, the client's bytes queued first.
class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        self.wfile.write(b"got " + line.upper())


with socketserver.TCPServer(("127.0.0.1", 0), Upper) as server:
    server.timeout = 5
    host, port = server.server_address
    print("tcp server", host, type(port).__name__)
    c = socket.create_connection((host, port), timeout=5)
    c.sendall(b"one line\n")
    server.handle_request()
    print("tcp reply", c.recv(100))
    c.close()

path = os.path.join(tmp, "server.sock")
with socketserver.UnixStreamServer(path, Upper) as server:
    server.timeout = 5
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(5)
    c.connect(path)
    c.sendall(b"unix line\n")
    server.handle_request()
    print("unix reply", c.recv(100), server.server_address == path)
    c.close()


class Udp(socketserver.DatagramRequestHandler):
    def handle(self):
        self.wfile.write(b"dgram " + self.rfile.read())


with socketserver.UDPServer(("127.0.0.1", 0), Udp) as server:
    server.timeout = 5
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(5)
    c.sendto(b"ping", server.server_address)
    server.handle_request()
    print("udp reply", c.recvfrom(100)[0])
    c.close()

# handle_request with nothing to do returns after its timeout.
with socketserver.TCPServer(("127.0.0.1", 0), Upper) as server:
    server.timeout = 0.05
    timed_out = []
    server.handle_timeout = lambda: timed_out.append(True)
    server.handle_request()
    print("timeout handled", timed_out)


# http.server answered through http.client.
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = f"path={self.path} agent={self.headers['User-Agent']}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201, "Made")
        self.end_headers()
        self.wfile.write(body[::-1])

    def log_message(self, format, *args):
        print("log", format % args)


with http.server.HTTPServer(("127.0.0.1", 0), Handler) as httpd:
    httpd.timeout = 5
    host, port = httpd.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/some/path?q=1", headers={"User-Agent": "nativesock-test"})
    httpd.handle_request()
    r = conn.getresponse()
    print("GET", r.status, r.reason, r.getheader("Content-Type"), r.read())
    conn.close()

    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("POST", "/echo", body=b"reversed body")
    httpd.handle_request()
    r = conn.getresponse()
    print("POST", r.status, r.reason, r.read())
    conn.close()

    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("DELETE", "/x")
    httpd.handle_request()
    r = conn.getresponse()
    print("DELETE", r.status, r.reason, len(r.read()) > 0)
    conn.close()

# The server's side of http.client: a refused connection.
try:
    http.client.HTTPConnection("127.0.0.1", 1, timeout=5).request("GET", "/")
except ConnectionRefusedError as e:
    print("refused", e)
print("done", isinstance(sys.stdout, io.TextIOBase))
