import { StringDecoder } from 'node:string_decoder';

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

/** One non-blank line of a JSONL stream, with its 1-based line number. */
export interface NumberedLine {
  line: number;
  text: string;
}

/**
 * The non-blank lines of a JSONL stream, a batch per chunk read: far cheaper per line than
 * readline's one event and one promise per line when millions of lines stream through. Bytes are
 * decoded by a StringDecoder (a character split between two reads is kept for the next):
 * measured about three times cheaper than TextDecoder's streaming mode; a leading byte order mark
 * is dropped, as TextDecoder does.
 */
export async function* jsonlBatches(stream: AsyncIterable<Buffer | string>): AsyncGenerator<NumberedLine[]> {
  let rest = '';
  let line = 0;
  let atStart = true;
  const decoder = new StringDecoder('utf8');
  for await (const piece of stream) {
    let decoded = typeof piece === 'string' ? piece : decoder.write(piece);
    if (atStart && typeof piece !== 'string' && decoded !== '') {
      atStart = false;
      if (decoded.charCodeAt(0) === BYTE_ORDER_MARK) decoded = decoded.slice(1);
    }
    const text = rest + decoded;
    const parts = text.split('\n');
    rest = parts.pop() as string;
    const batch: NumberedLine[] = [];
    for (const part of parts) {
      line += 1;
      const clean = part.endsWith('\r') ? part.slice(0, -1) : part;
      if (clean.trim() !== '') batch.push({ line, text: clean });
    }
    if (batch.length > 0) yield batch;
  }
  rest += decoder.end();
  if (rest.trim() !== '') yield [{ line: line + 1, text: rest.endsWith('\r') ? rest.slice(0, -1) : rest }];
}

const BYTE_ORDER_MARK = 0xfeff;
