// The periodic report line, the only thing the server prints to standard output, and when
// the next one is due.

export function formatReport(c: { unique: number; duplicates: number; total: number }): string {
  return `Received ${c.unique} unique numbers, ${c.duplicates} duplicates. Unique total: ${c.total}`;
}

/**
 * When the report after the one due at `due` is due (performance.now() times, ms): the next
 * point of the grid `due + k * interval` after `now`. Each report keeps to the grid set at
 * readiness: setInterval counted each tick from the last one's lateness, and the lines drifted
 * later and later (docs/experiments.md, 2026-12-07). A
 * server stopped longer than an interval (SIGSTOP) skips the reports it missed.
 */
export function nextReportDue(due: number, interval: number, now: number): number {
  let next = due + interval;
  if (next > now) return next;
  // Whole intervals missed, then one more: strictly after `now`, even where `now` is on the
  // grid (a ceil() there gave `now` itself, and a report at once). The loop catches rounding.
  next += (Math.floor((now - next) / interval) + 1) * interval;
  while (next <= now) next += interval;
  return next;
}
