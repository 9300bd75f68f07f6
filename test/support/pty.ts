// A terminal nobody reads: the far side (/dev/pts/N) of a pseudo-terminal whose near side
// (the master) this process holds and does not read, so that a write to the terminal waits,
// or fails with EAGAIN, once ~18 KiB wait there, as on a terminal stopped with Ctrl-S. Made
// with posix_openpt(3) through bun:ffi (Bun has no pty API); read, once asked, by `cat` (a
// Bun stream of a pty master fails with ESPIPE).

import { dlopen, FFIType, ptr } from "bun:ffi";
import { closeSync, constants } from "node:fs";

const { i32, u64, ptr: pointer } = FFIType;

export class StuckTerminal {
  /** The terminal's device, to be opened by the writer (`--log`). */
  readonly path: string;
  private readonly master: number;

  constructor() {
    const libc = dlopen("libc.so.6", {
      posix_openpt: { args: [i32], returns: i32 },
      grantpt: { args: [i32], returns: i32 },
      unlockpt: { args: [i32], returns: i32 },
      ptsname_r: { args: [i32, pointer, u64], returns: i32 },
    });
    try {
      const { posix_openpt, grantpt, unlockpt, ptsname_r } = libc.symbols;
      this.master = posix_openpt(constants.O_RDWR | constants.O_NOCTTY | constants.O_CLOEXEC);
      const name = new Uint8Array(64);
      if (this.master < 0 || grantpt(this.master) !== 0 || unlockpt(this.master) !== 0 || ptsname_r(this.master, ptr(name), name.length) !== 0) {
        throw new Error("cannot make a pseudo-terminal");
      }
      this.path = new TextDecoder().decode(name.subarray(0, name.indexOf(0)));
    } finally {
      libc.close();
    }
    // Bytes as written: no LF turned into CR LF on the way out.
    const stty = Bun.spawnSync(["stty", "-F", this.path, "-opost", "-echo"]);
    if (stty.exitCode !== 0) throw new Error(`stty failed: ${stty.stderr}`);
  }

  /**
   * Starts reading: resolves to every byte the terminal took, once its last writer has
   * closed it (the master's read then fails with EIO, which ends cat).
   */
  reader(): { cat: Bun.Subprocess; text: Promise<string> } {
    const cat = Bun.spawn(["cat"], { stdin: this.master, stdout: "pipe", stderr: "ignore" });
    return { cat, text: new Response(cat.stdout).text() };
  }

  close(): void {
    closeSync(this.master);
  }
}
