// What each signal does to the server. A signal whose default action ends the process would
// lose the numbers still in memory and tear the log, so none is left at its default
// (docs/edges.md has the table):
// - STOP_SIGNALS stop the server cleanly, as `terminate` does (log flushed and fsynced, exit 0);
// - SIGUSR1 prints a report line at once (as `dd` prints its progress);
// - SIGUSR2 is ignored (the test hook NUMBERS_TEST_FAULT adds its own listener);
// - SIGSTKFLT and the real-time signals, which Bun cannot listen to, are set to SIG_IGN
//   through libc's signal() (bun:ffi; where libc.so.6 cannot be loaded they stay as they were);
// - SIGTTOU is set to SIG_IGN the same way: a write to the terminal from a background job
//   under `stty tostop` stopped the server (its default action) at each try, so that no
//   signal but SIGKILL could end it; ignored, the write goes through (a review);
// - SIGPIPE and SIGXFSZ are already ignored by Bun (a failed write is an error, not a death);
// - the crash signals (SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV, SIGSYS) stay with Bun's crash
//   handler: when the CPU raises one, returning from a handler would only run the faulting
//   instruction again, and the kernel gives no JavaScript handler the way to tell a real
//   fault from one sent by kill.

import { libc } from "../sys/libc.ts";

/** Every catchable signal that would end the process and that Bun lets JavaScript handle. */
export const STOP_SIGNALS = [
  "SIGINT",
  "SIGTERM",
  // A closed terminal must not cost the numbers still in memory.
  "SIGHUP",
  "SIGQUIT",
  // abort() inside the process still ends it (glibc raises it again at the default action).
  "SIGABRT",
  "SIGALRM",
  "SIGVTALRM",
  "SIGPROF",
  // CPU-time limit (ulimit -t): the soft limit's signal leaves time to stop cleanly.
  "SIGXCPU",
  "SIGIO",
] as const;

export const REPORT_SIGNAL = "SIGUSR1";
export const IGNORED_SIGNAL = "SIGUSR2";

const SIGSTKFLT = 16;
const SIGTTOU = 22;
const SIG_IGN = 1;

export interface SignalHandlers {
  stop: (name: string) => void;
  report: () => void;
}

const ignore = () => {};

/** Installs the handlers; returns the function that removes the listeners again. */
export function handleSignals(h: SignalHandlers): () => void {
  const listeners: [string, () => void][] = STOP_SIGNALS.map((name) => [name, () => h.stop(name)]);
  listeners.push([REPORT_SIGNAL, () => h.report()], [IGNORED_SIGNAL, ignore]);
  for (const [name, listener] of listeners) process.on(name as NodeJS.Signals, listener);
  ignoreUnlistenable();
  return () => {
    for (const [name, listener] of listeners) process.off(name as NodeJS.Signals, listener);
  };
}

/** SIGSTKFLT, SIGTTOU and SIGRTMIN..SIGRTMAX to SIG_IGN, through libc (glibc's own numbering of the last). */
function ignoreUnlistenable(): void {
  const c = libc();
  if (c === undefined) return;
  const last = c.sigrtmax();
  c.signal(SIGSTKFLT, SIG_IGN);
  c.signal(SIGTTOU, SIG_IGN);
  for (let n = c.sigrtmin(); n <= last; n++) c.signal(n, SIG_IGN);
}
