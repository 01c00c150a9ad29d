// The bench's JavaScript program on the nativesock binding (`nativesock`
// ES module), built with bindings/js/build and run by `nativesock run`. It
// times its own loop and prints the nanoseconds, as node_net_bench.mjs does
// with Node's `net` natively.
//
//   getsockname 0 N
//   connect PORT N
//   sendall PORT BYTES CHUNK
//   recv PORT BYTES CHUNK
import { getArguments } from "wasi:cli/environment@0.2.12";
import { Socket, createConnection } from "nativesock";

function main() {
  const [mode, portArg, nArg, chunkArg] = getArguments().slice(1);
  const [port, n, chunk] = [
    Number(portArg),
    Number(nArg),
    Number(chunkArg ?? 0),
  ];
  const addr = ["127.0.0.1", port];
  let t;
  if (mode === "getsockname") {
    const s = new Socket();
    s.bind(["127.0.0.1", 0]);
    t = performance.now();
    for (let i = 0; i < n; i++) s.getsockname();
  } else if (mode === "connect") {
    t = performance.now();
    for (let i = 0; i < n; i++) {
      const s = new Socket();
      s.connect(addr);
      s.close();
    }
  } else if (mode === "sendall") {
    const s = createConnection(addr);
    const buf = new Uint8Array(chunk).fill(0x5a);
    let left = n;
    t = performance.now();
    while (left > 0) {
      const k = Math.min(left, chunk);
      s.sendall(k === chunk ? buf : buf.subarray(0, k));
      left -= k;
    }
    s.shutdown(1);
    if (s.recv(1).length !== 0) throw new Error("the peer sent data");
  } else if (mode === "recv") {
    const s = createConnection(addr);
    let got = 0;
    t = performance.now();
    while (got < n) {
      const k = s.recv(chunk).length;
      if (k === 0) break;
      got += k;
    }
    if (got !== n) throw new Error("the peer closed early");
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  console.log(String(Math.round((performance.now() - t) * 1e6)));
}

export const run = { run: main };
