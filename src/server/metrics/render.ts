// What /metrics says: the server's figures at one moment (a Snapshot, gathered by the
// coordinator as a report gathers its counts) as Prometheus metric families. The names are
// part of the interface that dashboards and alerts depend on: change none lightly.

import pkg from "../../../package.json" with { type: "json" };
import type { CloseReason, ConnectionStats } from "../acceptor.ts";
import { READER_LAG_BYTES } from "../logfile.ts";
import { exposition, type Family } from "./exposition.ts";

export interface Snapshot {
  /** Valid lines received since start. */
  unique: number;
  duplicates: number;
  /** Numbers in the log: those loaded by --resume and every unique number since. */
  logNumbers: number;
  logBytesWritten: number;
  /** Bytes of a pipe's or FIFO's log that its reader has not taken yet (0 for a file). */
  logWaitingBytes: number;
  logWriteErrors: number;
  connections: ConnectionStats;
  /** Per worker thread (thread 1, 2, ...): bytes handed to it and not yet consumed. */
  workerQueueBytes: number[];
}

const CLOSE_REASONS: CloseReason[] = ["invalid", "idle", "eof", "terminate", "shutdown"];

/** When the process started, in seconds since the epoch (performance's time origin). */
const START_TIME_SECONDS = performance.timeOrigin / 1000;

export function renderMetrics(s: Snapshot): string {
  const families: Family[] = [
    {
      name: "numbers_received_total",
      type: "counter",
      help: "Valid numbers received since start: new ones (written to the log) and duplicates.",
      samples: [
        { labels: { result: "unique" }, value: s.unique },
        { labels: { result: "duplicate" }, value: s.duplicates },
      ],
    },
    {
      name: "numbers_log_numbers",
      type: "gauge",
      help: "Numbers in the log, those loaded by --resume included (the report's Unique total).",
      samples: [{ value: s.logNumbers }],
    },
    {
      name: "numbers_log_bytes_written_total",
      type: "counter",
      help: "Bytes of the log written since start (a pipe's or FIFO's reader may not have taken them all yet).",
      samples: [{ value: s.logBytesWritten }],
    },
    {
      name: "numbers_log_waiting_bytes",
      type: "gauge",
      help: `Bytes of a pipe's or FIFO's log waiting for its reader to take them (0 for a file); past ${READER_LAG_BYTES >> 20} MiB the clients are held.`,
      samples: [{ value: s.logWaitingBytes }],
    },
    {
      name: "numbers_log_write_errors_total",
      type: "counter",
      help: "Failed log writes (each stops the server with exit code 1).",
      samples: [{ value: s.logWriteErrors }],
    },
    {
      name: "numbers_clients_connected",
      type: "gauge",
      help: "Clients connected now.",
      samples: [{ value: s.connections.connected }],
    },
    {
      name: "numbers_clients_waiting",
      type: "gauge",
      help: "Connections over --max-clients waiting now for a slot to free (nothing counted; refused once none has freed, or begun to, for 50 ms).",
      samples: [{ value: s.connections.waiting }],
    },
    {
      name: "numbers_clients_held",
      type: "gauge",
      help: `1 while the clients are held (read no more) because the log's reader is more than ${READER_LAG_BYTES >> 20} MiB behind, else 0.`,
      samples: [{ value: s.connections.held ? 1 : 0 }],
    },
    {
      name: "numbers_connections_total",
      type: "counter",
      help: "Connections accepted since start: admitted, or refused (over --max-clients: reset, or gone before a slot freed; or while stopping).",
      samples: [
        { labels: { outcome: "admitted" }, value: s.connections.admitted },
        { labels: { outcome: "refused" }, value: s.connections.refused },
      ],
    },
    {
      name: "numbers_clients_closed_total",
      type: "counter",
      help: "Admitted clients let go since start: invalid input (reset), --idle-timeout, the client's own end of input, terminate (closed last), or the server's shutdown.",
      samples: CLOSE_REASONS.map((reason) => ({ labels: { reason }, value: s.connections.closed[reason] })),
    },
    {
      name: "numbers_worker_queue_bytes",
      type: "gauge",
      help: "Bytes of lines handed to a worker thread (--workers) that it has not counted yet.",
      samples: s.workerQueueBytes.map((bytes, i) => ({ labels: { thread: String(i + 1) }, value: bytes })),
    },
    {
      name: "process_resident_memory_bytes",
      type: "gauge",
      help: "Resident memory size in bytes.",
      samples: [{ value: process.memoryUsage.rss() }],
    },
    {
      name: "process_start_time_seconds",
      type: "gauge",
      help: "Start time of the process since the Unix epoch in seconds.",
      samples: [{ value: START_TIME_SECONDS }],
    },
    {
      name: "numbers_build_info",
      type: "gauge",
      help: "Always 1; the labels say which version runs on which Bun.",
      samples: [{ labels: { version: pkg.version, bun: Bun.version }, value: 1 }],
    },
  ];
  return exposition(families);
}
