import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { jsonlBatches, UnrecoverableError } from '@phudge/core';
import type { InputLine } from '@phudge/judge';

/** A JSONL source read line by line, with how far into it the reader is. */
export interface LineSource {
  lines: AsyncIterable<InputLine>;
  /** Size in bytes, when known (a file; not stdin). */
  totalBytes: number | undefined;
  bytesRead: () => number;
}

/**
 * Opens a JSONL file (or `-` for stdin) for streaming: memory stays bounded whatever its size.
 * The file is checked now, so a bad path fails before the model loads; reading starts at the
 * first iteration, since lines read before anyone iterates would be lost.
 * Blank lines are skipped; line numbers count every line, so error records point at the right one.
 * @throws UnrecoverableError when the file cannot be read.
 */
export async function openLines(path: string): Promise<LineSource> {
  let totalBytes: number | undefined;
  if (path !== '-') {
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new Error('not a file');
      totalBytes = info.size;
    } catch (error) {
      throw new UnrecoverableError(`cannot read input ${path}: ${(error as Error).message}`);
    }
  }
  let bytesRead = () => 0;
  async function* lines(): AsyncGenerator<InputLine> {
    let input: NodeJS.ReadableStream = process.stdin;
    if (path !== '-') {
      const file = createReadStream(path);
      bytesRead = () => file.bytesRead;
      input = file;
    }
    for await (const batch of jsonlBatches(input as AsyncIterable<Buffer>)) yield* batch;
  }
  return { lines: lines(), totalBytes, bytesRead: () => bytesRead() };
}
