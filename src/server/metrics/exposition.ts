// The Prometheus text exposition format, version 0.0.4: metric families, each with its
// `# HELP` and `# TYPE` line, then one line per sample. Only what this server exposes:
// counters and gauges, no timestamps. The rules are those of
// https://prometheus.io/docs/instrumenting/exposition_formats/ (`promtool check metrics`
// checks our output in test/server/promtool.test.ts).

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text: a backslash and a line feed are escaped. */
const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/** A label value: a backslash, a double quote and a line feed are escaped. */
const escapeLabel = (text: string) => text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** A sample value as Go's ParseFloat reads it: NaN, +Inf and -Inf are spelled its way. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Record<string, string> | undefined): string {
  if (labels === undefined) return "";
  const pairs = Object.entries(labels).map(([name, value]) => {
    if (!LABEL.test(name) || name.startsWith("__")) throw new Error(`exposition: bad label name '${name}'`);
    return `${name}="${escapeLabel(value)}"`;
  });
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** The families as one exposition, in the order given; throws on a name the format forbids. */
export function exposition(families: Family[]): string {
  let text = "";
  for (const family of families) {
    if (!NAME.test(family.name)) throw new Error(`exposition: bad metric name '${family.name}'`);
    text += `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`;
    for (const sample of family.samples) text += `${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}\n`;
  }
  return text;
}

/**
 * The samples of a scrape, as a map of series (`name{labels}`) to values; comments and blank
 * lines skipped. For the bench and the tests, which read what exposition() wrote.
 */
export function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}
