// The benchmark's ceiling: a TCP server that reads and discards everything, in its own
// process, on the same Bun.listen path as the real server, and frees each chunk's buffer at
// once as the server does (left to the garbage collector, they made the sink GC-bound). Like
// the server, it keeps no `end` handler, so Bun closes a connection as soon as the client
// half-closes: the same end condition the driver times. Prints the server's readiness line;
// stop it with SIGTERM. The bench warms it up with one untimed send (main.ts).

import { writeSync } from "node:fs";
import { freeChunk } from "../src/server/shard.ts";

const HOST = "127.0.0.1";

const listener = Bun.listen({
  hostname: HOST,
  port: 0,
  socket: {
    data(_socket, chunk) {
      freeChunk(chunk);
    },
    error() {},
  },
});
writeSync(2, `listening on ${HOST}:${listener.port}\n`);
