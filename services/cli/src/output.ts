import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { UnrecoverableError } from '@phudge/core';

/**
 * Opens an output file for streaming, making its folder first (`-o run/results.jsonl` in a new
 * folder is what a user types). Opened now, so an unwritable path fails before any work is done.
 * @throws UnrecoverableError when the file cannot be written.
 */
export async function openOutput(path: string): Promise<Writable> {
  try {
    await mkdir(dirname(path), { recursive: true });
    const stream = createWriteStream(path);
    await once(stream, 'open');
    return stream;
  } catch (error) {
    throw new UnrecoverableError(`cannot write ${path}: ${(error as Error).message}`);
  }
}

/** Writes a whole output file, making its folder first. @throws UnrecoverableError */
export async function writeOutput(path: string, body: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
  } catch (error) {
    throw new UnrecoverableError(`cannot write ${path}: ${(error as Error).message}`);
  }
}
