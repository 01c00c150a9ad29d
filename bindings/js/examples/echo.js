// A TCP echo over loopback, a unix socket pair, and the errors a program
// sees: build with `bindings/js/build examples/echo.js echo.wasm`, run with
// `nativesock run --allow-connect 127.0.0.1 --allow-bind 127.0.0.1 echo.wasm`.
import {
  Socket,
  SocketError,
  constants,
  createConnection,
  createServer,
  select,
  socketpair,
} from 'nativesock';

const text = new TextDecoder();

function main() {
  // TCP: a server, a client, one round trip.
  const server = createServer(['127.0.0.1', 0]);
  const [host, port] = server.getsockname();
  console.log('listening on', host, typeof port);
  const client = createConnection([host, port], { timeout: 5 });
  const [conn, peer] = server.accept();
  console.log('accepted from', peer[0], 'timeout', client.gettimeout());
  client.sendall('hello, nativesock\n');
  const [readable] = select([conn], [], [], 5);
  console.log('readable', readable.length === 1 && readable[0] === conn);
  const line = conn.recv(100);
  conn.sendall(line.map((b) => (b >= 97 && b <= 122 ? b - 32 : b)));
  console.log('echoed', JSON.stringify(text.decode(client.recv(100))));
  const buf = new Uint8Array(4);
  conn.sendall('abcdef');
  console.log('recvInto', client.recvInto(buf), text.decode(buf));
  for (const s of [client, conn, server]) s.close();
  console.log('fileno after close', client.fileno(), 'detach', client.detach());

  // A unix socket pair: datagram-sized messages, then end of stream.
  const [a, b] = socketpair(constants.AF_UNIX, constants.SOCK_STREAM);
  console.log(
    'pair family',
    a.family === constants.AF_UNIX,
    'type',
    b.type === constants.SOCK_STREAM,
  );
  a.send(new Uint8Array([1, 2, 3]));
  a.shutdown(constants.SHUT_WR);
  console.log('pair recv', Array.from(b.recv(10)), 'eof', b.recv(10).length);
  a.close();
  b.close();

  // Errors: JS errors with the Python class, errno and code.
  try {
    createConnection(['127.0.0.1', 1], { timeout: 5 });
  } catch (e) {
    console.log(
      e instanceof SocketError,
      e.name,
      e.code,
      e.errno === constants.ECONNREFUSED,
      e.message,
    );
  }
  const s = new Socket();
  try {
    s.settimeout(-1);
  } catch (e) {
    console.log(e instanceof RangeError, e.pythonClass, e.message);
  }
  try {
    s.connect(['127.0.0.1', 70000]);
  } catch (e) {
    console.log(e instanceof RangeError, e.pythonClass, e.message);
  }
  try {
    s.connect('127.0.0.1');
  } catch (e) {
    console.log(e instanceof TypeError, e.pythonClass, e.message);
  }
  s.setblocking(false);
  try {
    s.recv(1);
  } catch (e) {
    console.log(e.name, e.code, e.message);
  }
  s.close();
  try {
    s.send('x');
  } catch (e) {
    console.log(e.name, e.code, e.errno === constants.EBADF);
  }
}

export const run = { run: main };
