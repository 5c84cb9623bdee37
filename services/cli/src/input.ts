import {
  type ChunkEntry,
  InputNotFoundError,
  type InputSet,
  type ItemBuilder,
  readRecords,
  resolveInputs,
  type S3Settings,
  UnrecoverableError,
} from '@phudge/core';

/** A local run's input: its items in order, with how far into the files the reader is. */
export interface ItemSource {
  entries: AsyncIterable<ChunkEntry>;
  /** Bytes of every input file, when all are known (not stdin). */
  totalBytes: number | undefined;
  bytesRead: () => number;
  close(): Promise<void>;
}

/**
 * Opens the inputs of `phudge grade` (files, folders, globs, `s3://` objects, prefixes and globs,
 * or `-` for stdin) and turns their records into items: memory stays bounded whatever their size.
 * The inputs are checked now, so a bad path fails before the model loads; reading starts at
 * the first iteration, since records read before anyone iterates would be lost.
 * @throws UnrecoverableError when an input cannot be read or matches nothing.
 */
export async function openItems(uris: string[], s3: S3Settings, items: ItemBuilder): Promise<ItemSource> {
  const inputs: InputSet = await resolveInputs(uris, { s3 }).catch((error: Error) => {
    if (error instanceof InputNotFoundError) throw new UnrecoverableError(error.message);
    throw error;
  });
  let totalBytes: number | undefined = 0;
  for (const { size } of inputs.files)
    totalBytes = size === undefined || totalBytes === undefined ? undefined : totalBytes + size;
  let bytesRead = 0;
  async function* entries(): AsyncGenerator<ChunkEntry> {
    for (const file of inputs.files) {
      for await (const batch of readRecords(file, (bytes) => (bytesRead += bytes))) {
        for (const record of batch) yield* items.entries(record);
      }
    }
  }
  return { entries: entries(), totalBytes, bytesRead: () => bytesRead, close: () => inputs.close() };
}
