// Linux's view of TCP listeners and of a process's sockets, read from /proc: which ports
// listen and with which socket inode, and which socket inodes a process holds. Shared by
// the server (naming the owner of a locked log) and the checker (telling its own
// implementation's listener from another process's). Empty or null where /proc cannot tell.

import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface ListeningSocket {
  port: number;
  inode: string;
}

/** Every TCP socket in LISTEN, IPv4 and IPv6, with its port and inode. */
export function listeningSockets(): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "latin1");
    } catch {
      continue;
    }
    // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode":
    // local_address is hex ip:port, st 0A is LISTEN.
    for (const row of text.split("\n").slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A") sockets.push({ port: parseInt(f[1].split(":")[1], 16), inode: f[9] });
    }
  }
  return sockets;
}

/**
 * The inodes of the sockets process `pid` holds, in the order of its descriptors (as
 * /proc lists them); null where its descriptors cannot be read (gone, or another user's).
 */
export function socketInodes(pid: number | string): string[] | null {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  const inodes: string[] = [];
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.push(m[1]);
    } catch {
      // Closed meanwhile.
    }
  }
  return inodes;
}
