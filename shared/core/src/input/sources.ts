import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { UnrecoverableError } from '../errors.js';
import { createS3Client, S3ObjectStore, type S3Settings } from '../store/s3-store.js';
import { formatOf, type InputFile } from './formats.js';
import { type AsyncBuffer, asyncBufferFromFile } from './parquet-reader.js';

/** The files of a run's input, in the order they are read, and what must be closed after. */
export interface InputSet {
  files: InputFile[];
  close(): Promise<void>;
}

/** Characters that make a URI a glob. */
const GLOB = /[*?[]/;

/**
 * Expands what a user names as input into files: each of `uris` is a local path or `file://`
 * URI, or an `s3://bucket/key`; one object or file, a prefix or folder ending in `/` (every
 * file under it with a known extension: .jsonl, .jsonl.gz, .gz, .parquet, ...), or a glob
 * (`s3://logs/2026-12-01/*.jsonl.gz`; `*` and `?` stay within one path segment, `**` crosses
 * them). `-` is stdin. Files are read in the order given, each prefix or glob sorted by key.
 * @throws UnrecoverableError when an input does not exist or a prefix or glob matches nothing.
 */
export async function resolveInputs(uris: readonly string[], s3: S3Settings): Promise<InputSet> {
  const clients = new Map<string, { client: S3Client; store: S3ObjectStore }>();
  const bucket = (name: string) => {
    let entry = clients.get(name);
    if (!entry) {
      const client = createS3Client(s3);
      entry = { client, store: new S3ObjectStore(`s3://${name}`, client) };
      clients.set(name, entry);
    }
    return entry;
  };
  const close = async () => {
    for (const { store } of clients.values()) await store.close();
  };
  const files: InputFile[] = [];
  const seen = new Set<string>();
  try {
    for (const uri of uris) {
      const found = uri.startsWith('s3://') ? await expandS3(uri, bucket) : await expandLocal(uri);
      for (const file of found) {
        const identity = uri.startsWith('s3://')
          ? `s3://${uri.slice(5).split('/')[0]}/${file.source}`
          : file.source;
        if (seen.has(identity)) continue;
        seen.add(identity);
        files.push(file);
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { files, close };
}

async function expandS3(
  uri: string,
  bucket: (name: string) => { client: S3Client; store: S3ObjectStore },
): Promise<InputFile[]> {
  const slash = uri.indexOf('/', 5);
  const name = slash < 0 ? uri.slice(5) : uri.slice(5, slash);
  const path = slash < 0 ? '' : uri.slice(slash + 1);
  if (name === '') throw new UnrecoverableError(`not an s3:// URI: ${uri}`);
  const { client, store } = bucket(name);
  let keys: string[];
  if (path === '' || path.endsWith('/') || GLOB.test(path)) {
    const { folder, matches } = pattern(path);
    keys = (await store.list(folder).catch(cannotRead(uri))).filter(matches);
    if (keys.length === 0) throw new UnrecoverableError(`no input file matches ${uri}`);
  } else {
    keys = [path];
  }
  return Promise.all(keys.map((key) => s3File(client, name, key)));
}

async function s3File(client: S3Client, Bucket: string, Key: string): Promise<InputFile> {
  const head = await client
    .send(new HeadObjectCommand({ Bucket, Key }))
    .catch(cannotRead(`s3://${Bucket}/${Key}`));
  const size = Number(head.ContentLength ?? 0);
  return {
    source: Key,
    size,
    async stream() {
      const response = await client.send(new GetObjectCommand({ Bucket, Key }));
      return response.Body as Readable;
    },
    async randomAccess(): Promise<AsyncBuffer> {
      return {
        byteLength: size,
        async slice(start, end = size) {
          if (end <= start) return new ArrayBuffer(0);
          const response = await client.send(
            new GetObjectCommand({ Bucket, Key, Range: `bytes=${start}-${end - 1}` }),
          );
          const bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array(0);
          return new Uint8Array(bytes).buffer;
        },
      };
    },
  };
}

async function expandLocal(uri: string): Promise<InputFile[]> {
  if (uri === '-') return [stdinFile()];
  const path = uri.startsWith('file://') ? fileURLToPath(uri) : uri;
  if (GLOB.test(path)) {
    const { folder, matches } = pattern(path.split(sep).join('/'));
    const found = (await walk(folder === '' ? '.' : folder.replace(/\/$/, '')).catch(cannotRead(uri))).filter(
      (file) => matches(file.split(sep).join('/').replace(/^\.\//, '')),
    );
    if (found.length === 0) throw new UnrecoverableError(`no input file matches ${uri}`);
    return Promise.all(found.map(localFile));
  }
  const info = await stat(path).catch(cannotRead(uri));
  if (info.isDirectory()) {
    const found = (await walk(path)).filter((file) => formatOf(file) !== undefined);
    if (found.length === 0)
      throw new UnrecoverableError(`no input file (.jsonl, .jsonl.gz, .parquet) under ${uri}`);
    return Promise.all(found.map(localFile));
  }
  if (!info.isFile()) throw new UnrecoverableError(`cannot read input ${uri}: not a file`);
  return [await localFile(path)];
}

async function localFile(path: string): Promise<InputFile> {
  const { size } = await stat(path).catch(cannotRead(path));
  return {
    source: path,
    size,
    stream: async () => createReadStream(path),
    randomAccess: () => asyncBufferFromFile(path),
  };
}

function stdinFile(): InputFile {
  return {
    source: '-',
    stream: async () => process.stdin,
    randomAccess: () => {
      throw new UnrecoverableError('Parquet cannot be read from stdin: give the file');
    },
  };
}

/** Every file under a folder, sorted, as paths joined onto the folder. */
async function walk(folder: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = folder === '.' ? entry.name : join(folder, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

/**
 * A prefix or a glob as the folder to list (everything before the first wildcard's segment) and
 * a test for each key found. A plain prefix takes the keys with a known input extension.
 */
export function pattern(path: string): { folder: string; matches: (key: string) => boolean } {
  const wildcard = path.search(GLOB);
  if (wildcard < 0) return { folder: path, matches: (key) => formatOf(key) !== undefined };
  const folder = path.slice(0, path.lastIndexOf('/', wildcard) + 1);
  let source = '';
  for (let i = 0; i < path.length; i++) {
    const char = path[i] as string;
    if (char === '*' && path[i + 1] === '*') {
      // `**/` is any number of folders, `**` anything at all.
      source += path[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += path[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = path.indexOf(']', i);
      if (close < 0) source += '\\[';
      else {
        source += `[${path
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else source += char.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  const regex = new RegExp(`^${source}$`);
  return { folder, matches: (key) => regex.test(key) };
}

function cannotRead(uri: string): (error: Error) => never {
  return (error) => {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const reason = status === 404 || error.name === 'NotFound' ? 'no such object' : error.message;
    throw new UnrecoverableError(`cannot read input ${uri}: ${reason}`);
  };
}
