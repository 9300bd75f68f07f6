// The check command's configuration, as the cases, the run and the targets read it. A file of
// its own, importing nothing: config.ts, which parses it, loads the case list to check -k, and
// the cases read this type, so it cannot live there without a cycle.

export interface CheckConfig {
  /** The shell command that starts the implementation under test; "" = a server already running. */
  spawn: string;
  /** Where the spawned command runs; "" = a fresh temp directory for every start. */
  cwd: string;
  host: string;
  /** The port the implementation listens on; with `{PORT}` in --spawn, a free port the checker picks. */
  port: number;
  /** The log file, relative to the spawned command's directory. */
  log: string;
  /** Appended to --spawn with `{S}` replaced by a short interval, to shorten the 10 s report cadence. */
  spawnReportInterval: string;
  /** Seconds an expected event may take (a close, a report, an exit). */
  timeout: number;
  /** Seconds a spawned implementation may take to accept its first connection. */
  startTimeout: number;
  /** Seconds of silence that count as "nothing happened" (a client kept, a terminate ignored). */
  settle: number;
  /** Seconds in which what the job asks "at once" or "as fast as possible" must come. */
  prompt: number;
  /** Numbers sent in each throughput case; 0 = no throughput cases. */
  throughput: number;
  json: boolean;
  list: boolean;
  /** Runs only the cases whose name holds this text; "" = all. */
  only: string;
}
