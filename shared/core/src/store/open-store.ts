import type { PhudgeConfig } from '../config.js';
import { UnrecoverableError } from '../errors.js';
import { FileObjectStore } from './file-store.js';
import type { ObjectStore } from './object-store.js';
import { createS3Client, S3ObjectStore } from './s3-store.js';

/** `PHUDGE_STORE_URL` picks the store: `s3://bucket/prefix` or `file:///dir`. */
export function openStore(config: Pick<PhudgeConfig, 'store' | 's3'>): ObjectStore {
  const { url } = config.store;
  if (url.startsWith('s3://')) return new S3ObjectStore(url, createS3Client(config.s3));
  if (url.startsWith('file://')) return new FileObjectStore(url);
  throw new UnrecoverableError(`store.url: "${url}" must start with s3:// or file://`);
}
