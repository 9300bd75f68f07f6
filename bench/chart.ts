// The benchmark's results as an SVG bar chart, written by hand (no packages): one group per
// workload, one bar per --workers variant of our server, then the C yardstick and the sink.
// Each bar is the median of the runs, with a thin line from the slowest run to the fastest;
// our bars carry their ratio to the C yardstick. Dashed lines across a group mark its goals
// (goals.ts): that ratio to C, and the share of the sink. One linear scale for every bar.

import { GOALS } from "./goals.ts";
import { cRatio, median, type Row } from "./table.ts";

const BAR = 44;
const GAP = 8;
/** Between groups: room for the goal lines' labels, right of each group. */
const GROUP_GAP = 84;
const PLOT_HEIGHT = 300;
const LEFT = 56;
const TOP = 90;
const BOTTOM = 52;
const COLORS = ["#4e79a7", "#76b7b2", "#59a14f", "#8cd17d"];
const C_COLOR = "#e15759";
const SINK_COLOR = "#bab0ac";

interface Bar {
  label: string;
  color: string;
  rates: number[];
  /** Shown under the value: the ratio to the C yardstick. */
  note?: string;
}

const esc = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const m = (rate: number) => rate / 1e6;

function variantLabel(workers: number | undefined): string {
  if (workers === undefined) return "ours";
  return `ours, ${workers} thread${workers === 1 ? "" : "s"}`;
}

/** A round step for the value axis, about five ticks up to `max`. */
function step(max: number): number {
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((k) => k * pow).find((s) => s >= raw)!;
}

export function svgChart(rows: Row[], caption: string): string {
  const workloads = [...new Set(rows.map((r) => r.workload))];
  const variants = [...new Set(rows.map((r) => r.workers))];
  const groups = workloads.map((workload) => {
    const own = rows.filter((r) => r.workload === workload);
    const bars: Bar[] = own.map((r) => {
      const ratio = cRatio(r);
      const color = COLORS[variants.indexOf(r.workers) % COLORS.length];
      return { label: variantLabel(r.workers), color, rates: r.rates, note: ratio === undefined ? undefined : `${ratio.toFixed(2)}x C` };
    });
    const c = own.find((r) => r.cRates)?.cRates;
    if (c) bars.push({ label: "C yardstick", color: C_COLOR, rates: c });
    bars.push({ label: "sink", color: SINK_COLOR, rates: own[0].sinkRates });
    // The goals as rates: what our bars must reach.
    const goal = GOALS[workload as keyof typeof GOALS];
    const goals: { rate: number; label: string; color: string }[] = [];
    if (goal && c) goals.push({ rate: goal.ofC * median(c), label: `goal ${goal.ofC}x C`, color: C_COLOR });
    if (goal?.ofSink) goals.push({ rate: goal.ofSink * median(own[0].sinkRates), label: `goal ${Math.round(goal.ofSink * 100)}% of sink`, color: "#555" });
    return { workload, bars, goals };
  });
  const max = Math.max(...groups.flatMap((g) => [...g.bars.flatMap((b) => b.rates.map(m)), ...g.goals.map((l) => m(l.rate))]));
  const tick = step(max);
  const top = Math.ceil(max / tick) * tick;
  const y = (value: number) => TOP + PLOT_HEIGHT - (value / top) * PLOT_HEIGHT;
  const groupWidth = (g: (typeof groups)[number]) => g.bars.length * (BAR + GAP) - GAP;
  const width = LEFT + groups.reduce((w, g) => w + groupWidth(g) + GROUP_GAP, 0) + GROUP_GAP / 2;
  const height = TOP + PLOT_HEIGHT + BOTTOM;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${LEFT}" y="18" font-size="14" font-weight="bold">numbers-server: M numbers/s (median; line: slowest to fastest run; dashed: goals)</text>`);
  // The machine line, cut after its first "; " so that it fits.
  const cut = caption.indexOf("; ");
  const lines = cut < 0 ? [caption] : [caption.slice(0, cut + 1), caption.slice(cut + 2)];
  lines.forEach((line, i) => out.push(`<text x="${LEFT}" y="${32 + 12 * i}" font-size="10" fill="#555">${esc(line)}</text>`));
  // Legend: one entry per kind of bar.
  const legend: [string, string][] = [...variants.map((w, i): [string, string] => [variantLabel(w), COLORS[i % COLORS.length]])];
  if (groups.some((g) => g.bars.some((b) => b.label === "C yardstick"))) legend.push(["C yardstick (reference.c)", C_COLOR]);
  legend.push(["sink (loopback ceiling)", SINK_COLOR]);
  let lx = LEFT;
  for (const [label, color] of legend) {
    out.push(`<rect x="${lx}" y="54" width="10" height="10" fill="${color}"/><text x="${lx + 14}" y="63">${esc(label)}</text>`);
    lx += 24 + label.length * 6;
  }
  for (let v = 0; v <= top + 1e-9; v += tick) {
    out.push(`<line x1="${LEFT}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${LEFT - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(6)}</text>`);
  }
  let x = LEFT + GROUP_GAP / 2;
  for (const g of groups) {
    for (const b of g.bars) {
      const value = median(b.rates.map(m));
      const lo = Math.min(...b.rates.map(m));
      const hi = Math.max(...b.rates.map(m));
      const cx = x + BAR / 2;
      out.push(`<rect x="${x}" y="${y(value)}" width="${BAR}" height="${TOP + PLOT_HEIGHT - y(value)}" fill="${b.color}"><title>${esc(`${g.workload}, ${b.label}: ${value.toFixed(1)} M/s`)}</title></rect>`);
      if (hi > lo) out.push(`<line x1="${cx}" x2="${cx}" y1="${y(lo)}" y2="${y(hi)}" stroke="#333"/>`);
      const labelY = Math.min(y(value), y(hi)) - (b.note ? 16 : 4);
      out.push(`<text x="${cx}" y="${labelY}" text-anchor="middle">${value.toFixed(1)}</text>`);
      if (b.note) out.push(`<text x="${cx}" y="${labelY + 12}" text-anchor="middle" font-weight="bold">${esc(b.note)}</text>`);
      x += BAR + GAP;
    }
    const left = x - GAP - groupWidth(g);
    // Labels right of the group, the lower one moved down when two would overlap.
    let lastLabelY = -Infinity;
    for (const line of [...g.goals].sort((a, b) => b.rate - a.rate)) {
      const gy = y(m(line.rate));
      const labelY = Math.max(gy + 3, lastLabelY + 11);
      lastLabelY = labelY;
      out.push(`<line x1="${left - 4}" x2="${x - GAP + 4}" y1="${gy}" y2="${gy}" stroke="${line.color}" stroke-dasharray="5 3"><title>${esc(`${g.workload}: ${line.label}, ${m(line.rate).toFixed(1)} M/s`)}</title></line>`);
      out.push(`<text x="${x - GAP + 7}" y="${labelY}" font-size="9" fill="${line.color}">${esc(line.label)}</text>`);
    }
    const gx = x - GAP - groupWidth(g) / 2;
    out.push(`<text x="${gx}" y="${TOP + PLOT_HEIGHT + 20}" text-anchor="middle" font-size="13" font-weight="bold">${esc(g.workload)}</text>`);
    x += GROUP_GAP - GAP;
  }
  out.push(`<line x1="${LEFT}" x2="${width - 10}" y1="${TOP + PLOT_HEIGHT}" y2="${TOP + PLOT_HEIGHT}" stroke="#333"/>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}
