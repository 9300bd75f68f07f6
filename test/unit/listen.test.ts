// Binding a port (src/server/listen.ts) in-process: each way a listen fails is one line that
// says why in words, not an error code.

import { expect, test } from "bun:test";
import { listen, ListenError } from "../../src/server/listen.ts";

const handlers = { data() {} };

test("a port in use, an address not of this machine, a name that resolves to nothing: one line each, in words", () => {
  const taken = listen("127.0.0.1", 0, handlers);
  try {
    const cases: [string, number, string][] = [
      ["127.0.0.1", taken.port, `cannot listen on 127.0.0.1:${taken.port}: the port is in use`],
      // TEST-NET-1 (RFC 5737): never an address of this machine.
      ["192.0.2.1", 0, "cannot listen on 192.0.2.1:0: the address is not one of this machine's"],
      ["no-such-host.invalid", 0, "cannot listen on no-such-host.invalid:0: no such address here"],
    ];
    for (const [host, port, message] of cases) {
      expect(() => listen(host, port, handlers)).toThrow(ListenError);
      expect(() => listen(host, port, handlers)).toThrow(message);
    }
  } finally {
    taken.stop(true);
  }
});
