// The periodic report line, the only thing the server prints to standard output.

export function formatReport(c: { unique: number; duplicates: number; total: number }): string {
  return `Received ${c.unique} unique numbers, ${c.duplicates} duplicates. Unique total: ${c.total}`;
}
