import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { PhudgeConfig } from '../config.js';
import { UnrecoverableError } from '../errors.js';
import { FileObjectStore } from './file-store.js';
import type { ObjectStore } from './object-store.js';
import { createS3Client, S3ObjectStore, type S3Settings } from './s3-store.js';

/** `PHUDGE_STORE_URL` picks the store: `s3://bucket/prefix` or `file:///dir`. */
export function openStore(config: Pick<PhudgeConfig, 'store' | 's3'>): ObjectStore {
  const { url } = config.store;
  if (url.startsWith('s3://')) return new S3ObjectStore(url, createS3Client(config.s3));
  if (url.startsWith('file://')) return new FileObjectStore(url);
  throw new UnrecoverableError(`store.url: "${url}" must start with s3:// or file://`);
}

/**
 * Opens an input for reading: `s3://bucket/key`, `file:///path`, or a plain local path.
 * @throws UnrecoverableError when the input does not exist or cannot be read.
 */
export async function openInput(uri: string, s3: S3Settings): Promise<Readable> {
  if (uri.startsWith('s3://')) {
    const slash = uri.indexOf('/', 5);
    const store = new S3ObjectStore(uri.slice(0, slash), createS3Client(s3));
    const stream = await store.getStream(uri.slice(slash + 1)).catch((error: Error) => {
      throw new UnrecoverableError(`cannot read input ${uri}: ${error.message}`);
    });
    stream.once('close', () => void store.close());
    return stream;
  }
  const path = uri.startsWith('file://') ? fileURLToPath(uri) : uri;
  await access(path).catch((error: Error) => {
    throw new UnrecoverableError(`cannot read input ${uri}: ${error.message}`);
  });
  return createReadStream(path);
}
