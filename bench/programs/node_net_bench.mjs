// The bench's Node.js program: the modes of socket_bench.js with Node's own
// `net` module, natively. Prints the nanoseconds its loop took.
//
//   node node_net_bench.mjs getsockname 0 N | connect PORT N
//   node node_net_bench.mjs sendall|recv PORT BYTES CHUNK
import net from "node:net";
import { once } from "node:events";

const [mode, portArg, nArg, chunkArg] = process.argv.slice(2);
const [port, n, chunk] = [Number(portArg), Number(nArg), Number(chunkArg ?? 0)];
const options = { host: "127.0.0.1", port };
let t;
if (mode === "getsockname") {
  // `server.address()` asks the kernel each time (a socket's is cached).
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) server.address();
  server.close();
} else if (mode === "connect") {
  t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = net.createConnection(options);
    await once(s, "connect");
    s.destroy();
  }
} else if (mode === "sendall") {
  const s = net.createConnection(options);
  await once(s, "connect");
  const buf = Buffer.alloc(chunk, 0x5a);
  let left = n;
  t = process.hrtime.bigint();
  while (left > 0) {
    const k = Math.min(left, chunk);
    if (!s.write(k === chunk ? buf : buf.subarray(0, k)))
      await once(s, "drain");
    left -= k;
  }
  s.end();
  s.resume();
  await once(s, "end");
} else if (mode === "recv") {
  const s = net.createConnection(options);
  await once(s, "connect");
  let got = 0;
  t = process.hrtime.bigint();
  s.on("data", (d) => {
    got += d.length;
  });
  await once(s, "end");
  if (got !== n) throw new Error("the peer closed early");
} else {
  throw new Error(`unknown mode ${mode}`);
}
console.log(String(process.hrtime.bigint() - t));
