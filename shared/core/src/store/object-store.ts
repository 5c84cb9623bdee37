import type { Readable } from 'node:stream';

/** An object that does not exist. Callers decide whether that is final (a missing chunk) or normal. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** A URI that points outside this store (another bucket, another folder). */
export class ForeignUriError extends Error {
  override readonly name = 'ForeignUriError';
  constructor(uri: string, store: string) {
    super(`${uri} is not in the store ${store}`);
  }
}

/**
 * Where chunks, results and summaries live. Keys are relative paths (`runs/<id>/summary.json`);
 * writes are whole-object and atomic, so writing the same key twice is harmless and a reader
 * never sees half an object.
 */
export interface ObjectStore {
  /** The store's root as a URI (`s3://bucket/prefix`, `file:///dir`). */
  readonly url: string;
  /** The URI of a key, as carried in job payloads and shown to users. */
  uri(key: string): string;
  /** The key of a URI inside this store. @throws ForeignUriError when the URI is elsewhere. */
  keyOf(uri: string): string;
  put(key: string, body: string | Uint8Array | Readable): Promise<void>;
  /** @throws NotFoundError */
  get(key: string): Promise<Buffer>;
  /** @throws NotFoundError */
  getStream(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Every key under the folder `prefix` (`runs/r1/parts/`), sorted, however many (pages are followed). */
  list(prefix: string): Promise<string[]>;
  /** The names of the folders directly under the folder `prefix` (`runs/` -> `['r1', 'r2']`), sorted. */
  listFolders(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Joins a store prefix and a key with exactly one slash. */
export function joinKey(prefix: string, key: string): string {
  const cleanPrefix = prefix.replace(/\/+$/, '');
  const cleanKey = key.replace(/^\/+/, '');
  return cleanPrefix ? `${cleanPrefix}/${cleanKey}` : cleanKey;
}

/** A folder prefix must end in `/`: S3 and the file store then list exactly the same keys. */
export function checkFolder(prefix: string): string {
  if (prefix !== '' && (!prefix.endsWith('/') || prefix.startsWith('/'))) {
    throw new Error(`invalid folder prefix "${prefix}": it must end in / and not start with one`);
  }
  if (prefix !== '') checkKey(prefix.slice(0, -1));
  return prefix;
}

export function checkKey(key: string): string {
  if (key === '' || key.split('/').some((part) => part === '..' || part === '.')) {
    throw new Error(`invalid object key "${key}"`);
  }
  return key;
}
