import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { PhudgeConfig } from '../config.js';
import { UnrecoverableError } from '../errors.js';
import { FileObjectStore } from './file-store.js';
import { InputNotFoundError, type InputPolicy } from './input-policy.js';
import { NotFoundError, type ObjectStore } from './object-store.js';
import { createS3Client, S3ObjectStore, type S3Settings } from './s3-store.js';

/** `PHUDGE_STORE_URL` picks the store: `s3://bucket/prefix` or `file:///dir`. */
export function openStore(config: Pick<PhudgeConfig, 'store' | 's3'>): ObjectStore {
  const { url } = config.store;
  if (url.startsWith('s3://')) return new S3ObjectStore(url, createS3Client(config.s3));
  if (url.startsWith('file://')) return new FileObjectStore(url);
  throw new UnrecoverableError(`store.url: "${url}" must start with s3:// or file://`);
}

/**
 * Opens a run's input for reading, after {@link InputPolicy} allowed it: nothing outside the
 * allowed locations is opened, or even looked up.
 * @throws InputForbiddenError outside the allowed locations.
 * @throws InputNotFoundError when an allowed input does not exist or is not a file.
 */
export async function openInput(uri: string, s3: S3Settings, policy: InputPolicy): Promise<Readable> {
  const input = await policy.check(uri);
  if (input.kind === 's3') {
    const store = new S3ObjectStore(`s3://${input.bucket}`, createS3Client(s3));
    try {
      const stream = await store.getStream(input.key);
      stream.once('close', () => void store.close());
      return stream;
    } catch (error) {
      await store.close();
      if (error instanceof NotFoundError) throw new InputNotFoundError(uri);
      throw error;
    }
  }
  // Open the real path the policy resolved, and read through that descriptor: a symlink swapped
  // after the check cannot redirect the read.
  const file = await open(input.path, 'r').catch(() => {
    throw new InputNotFoundError(uri);
  });
  if (!(await file.stat()).isFile()) {
    await file.close();
    throw new InputNotFoundError(uri);
  }
  return file.createReadStream();
}
