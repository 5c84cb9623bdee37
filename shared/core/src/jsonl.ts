/** JSON Lines: one JSON value per line, each line ending with a newline. */
export function toJsonl(values: readonly unknown[]): string {
  return values.map((value) => `${JSON.stringify(value)}\n`).join('');
}

/** Parses a whole JSONL object (a chunk or a results part); blank lines are skipped. */
export function parseJsonl(body: Buffer | string): unknown[] {
  return body
    .toString()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}
