// Every signal whose default action would end the server: none may lose a number. Each
// one that stops it (beyond SIGTERM, SIGINT and SIGHUP, in shutdown.test.ts) stops it as
// `terminate` does: exit 0, every number read in the log though the flush tick is far away.
// SIGUSR1 prints a report line at once; SIGUSR2, SIGSTKFLT and the real-time signals are
// ignored. The stopping signals alternate --workers 1 and 2; the others run on both.

import { describe, expect, test } from "bun:test";
import { expectLogged, expectOnlyReports, sendAll } from "../support/client.ts";
import { connect } from "../support/peer.ts";
import { REPORT } from "../support/reports.ts";
import { outcome, serverPool } from "../support/servers.ts";

const servers = serverPool();

/** Linux numbers (x86-64 and arm64) of the signals Bun has no name for. */
const SIGSTKFLT = 16;
const SIGTTOU = 22;
const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** kill(2) for any numbers, in order: Bun's proc.kill() takes none from 32 on. */
function sendSignals(pid: number, signals: number[]) {
  expect(Bun.spawnSync(["sh", "-c", signals.map((signal) => `kill -${signal} ${pid}`).join(" && ")]).exitCode).toBe(0);
}

const STOPPING = ["SIGQUIT", "SIGABRT", "SIGALRM", "SIGVTALRM", "SIGPROF", "SIGXCPU", "SIGIO"] as const;

describe("a signal that stops the server: exit 0, every number read in the log", () => {
  test.each(STOPPING.map((signal, i) => [signal, 1 + (i % 2)] as const))("%s (--workers %d)", async (signal, workers) => {
    const server = await servers.start(["--workers", String(workers), "--flush-interval", "60", "--report-interval", "3600"]);
    const held = await connect(server.port);
    // Once the server has closed this client, its lines have been counted (not written).
    await sendAll(await connect(server.port), "000000001\n000000002\n000000001\n");
    server.proc.kill(signal);
    await held.closed;
    const result = await outcome(server);
    expect({ code: result.code, signal: server.proc.signalCode, stderr: result.stderr }).toEqual({
      code: 0,
      signal: null,
      stderr: [`listening on 127.0.0.1:${server.port}`],
    });
    expectOnlyReports(result.stdout);
    expectLogged(server.log, [1, 2]);
  });
});

describe.each([1, 2])("--workers %d", (workers) => {
  test("SIGUSR1 prints a report line at once; SIGUSR2, SIGSTKFLT, SIGTTOU and every real-time signal (SIGRTMIN to SIGRTMAX) change nothing", async () => {
    const server = await servers.start(["--workers", String(workers), "--report-interval", "3600"]);
    await sendAll(await connect(server.port), "000000001\n000000002\n000000001\n");
    server.proc.kill("SIGUSR1");
    expect(await server.stdout.next()).toBe("Received 2 unique numbers, 1 duplicates. Unique total: 2");
    // The report flushed the log first, as every report does: its total is on disk.
    expectLogged(server.log, [1, 2]);
    server.proc.kill("SIGUSR2");
    // Every one: a server that ignored only the range's ends died of SIGRTMIN+6 (a review).
    // SIGTTOU's default action stops the process (a background job writing to its terminal).
    sendSignals(server.proc.pid, [SIGSTKFLT, SIGTTOU, ...Array.from({ length: SIGRTMAX - SIGRTMIN + 1 }, (_, i) => SIGRTMIN + i)]);
    // A client served after the signals shows the server alive; the next report counts
    // from the last one.
    await sendAll(await connect(server.port), "000000003\n000000002\n");
    server.proc.kill("SIGUSR1");
    expect(await server.stdout.next()).toBe("Received 1 unique numbers, 1 duplicates. Unique total: 3");
    (await connect(server.port)).write("terminate\n");
    const result = await outcome(server);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: [`listening on 127.0.0.1:${server.port}`] });
    expect(result.stdout.every((line) => REPORT.test(line))).toBe(true);
    expectLogged(server.log, [1, 2, 3]);
  });
});
