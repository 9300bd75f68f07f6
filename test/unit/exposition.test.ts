// The Prometheus text format writer (src/server/metrics/exposition.ts) and the metric set (src/server/metrics/render.ts):
// layout, escaping, special values, names the format forbids, and the names and types the
// issue asks for.

import { expect, test } from "bun:test";
import { exposition } from "../../src/server/metrics/exposition.ts";
import { renderMetrics } from "../../src/server/metrics/render.ts";

test("HELP and TYPE before the samples; labels in order; one line each", () => {
  const text = exposition([
    { name: "a_total", type: "counter", help: "A.", samples: [{ labels: { x: "1", y: "2" }, value: 3 }, { value: 4 }] },
    { name: "b", type: "gauge", help: "B.", samples: [] },
  ]);
  expect(text).toBe("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"2\"} 3\na_total 4\n# HELP b B.\n# TYPE b gauge\n");
});

test("escapes: HELP backslash and LF; label value backslash, quote and LF", () => {
  const text = exposition([{ name: "m", type: "gauge", help: "a\\b\nc \"q\"", samples: [{ labels: { l: 'x\\y"z\nw' }, value: 1 }] }]);
  expect(text).toBe('# HELP m a\\\\b\\nc "q"\n# TYPE m gauge\nm{l="x\\\\y\\"z\\nw"} 1\n');
});

test("values: integers, fractions, NaN and infinities as Go reads them", () => {
  const values = [0, 1234567890123, 0.5, 1795765612.19, NaN, Infinity, -Infinity];
  const text = exposition([{ name: "v", type: "gauge", help: "V.", samples: values.map((value) => ({ value })) }]);
  expect(text.split("\n").slice(2, -1)).toEqual(["v 0", "v 1234567890123", "v 0.5", "v 1795765612.19", "v NaN", "v +Inf", "v -Inf"]);
});

test("a metric or label name the format forbids throws", () => {
  for (const name of ["1a", "a-b", "a b", ""]) {
    expect(() => exposition([{ name, type: "gauge", help: "", samples: [] }])).toThrow(/bad metric name/);
  }
  for (const label of ["1a", "a-b", "__reserved", "a:b"]) {
    expect(() => exposition([{ name: "m", type: "gauge", help: "", samples: [{ labels: { [label]: "" }, value: 0 }] }])).toThrow(/bad label name/);
  }
});

test("the metric set: the names and types the issue lists, each with HELP and TYPE", () => {
  const text = renderMetrics({
    unique: 1,
    duplicates: 2,
    logNumbers: 3,
    logBytesWritten: 10,
    logWaitingBytes: 11,
    logWriteErrors: 0,
    connections: { connected: 1, waiting: 9, admitted: 2, refused: 3, closed: { invalid: 4, idle: 5, eof: 6, terminate: 8, shutdown: 7 }, held: true },
    workerQueueBytes: [100, 200],
  });
  const types = Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
  expect(types).toEqual({
    numbers_received_total: "counter",
    numbers_log_numbers: "gauge",
    numbers_log_bytes_written_total: "counter",
    numbers_log_waiting_bytes: "gauge",
    numbers_log_write_errors_total: "counter",
    numbers_clients_connected: "gauge",
    numbers_clients_waiting: "gauge",
    numbers_clients_held: "gauge",
    numbers_connections_total: "counter",
    numbers_clients_closed_total: "counter",
    numbers_worker_queue_bytes: "gauge",
    process_resident_memory_bytes: "gauge",
    process_start_time_seconds: "gauge",
    numbers_build_info: "gauge",
  });
  for (const name of Object.keys(types)) expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, "m"));
  for (const line of [
    'numbers_received_total{result="unique"} 1',
    'numbers_received_total{result="duplicate"} 2',
    "numbers_log_numbers 3",
    "numbers_log_bytes_written_total 10",
    "numbers_log_waiting_bytes 11",
    "numbers_log_write_errors_total 0",
    "numbers_clients_connected 1",
    "numbers_clients_waiting 9",
    "numbers_clients_held 1",
    'numbers_connections_total{outcome="admitted"} 2',
    'numbers_connections_total{outcome="refused"} 3',
    'numbers_clients_closed_total{reason="invalid"} 4',
    'numbers_clients_closed_total{reason="idle"} 5',
    'numbers_clients_closed_total{reason="eof"} 6',
    'numbers_clients_closed_total{reason="terminate"} 8',
    'numbers_clients_closed_total{reason="shutdown"} 7',
    'numbers_worker_queue_bytes{thread="1"} 100',
    'numbers_worker_queue_bytes{thread="2"} 200',
  ]) {
    expect(text.split("\n")).toContain(line);
  }
});
