import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, type TestS3 } from '../../../test/support/s3rver.js';
import { loadConfig, NotFoundError, type ObjectStore, openStore } from '../src/index.js';

let s3: TestS3;
let dir: string;
const stores: Record<string, ObjectStore> = {};

beforeAll(async () => {
  s3 = await startS3rver();
  dir = await mkdtemp(join(tmpdir(), 'file-store-'));
  stores.s3 = openStore(loadConfig({}, { ...s3.env, PHUDGE_STORE_URL: `s3://${s3.bucket}/fleet` }));
  stores.file = openStore(loadConfig({}, { PHUDGE_STORE_URL: `file://${dir}` }));
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
});
afterAll(async () => {
  for (const store of Object.values(stores)) await store.close();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

describe.each(['s3', 'file'])('%s object store', (kind) => {
  const store = () => stores[kind] as ObjectStore;

  it('stores and returns an object byte for byte', async () => {
    const body = Buffer.from('{"id":"a"}\n{"id":"ü"}\n');
    await store().put('runs/r1/results/part-000000.jsonl', body);
    expect((await store().get('runs/r1/results/part-000000.jsonl')).equals(body)).toBe(true);
    expect(await store().exists('runs/r1/results/part-000000.jsonl')).toBe(true);
  });

  it('stores a streamed body without adding anything to it', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `{"line":${i}}\n`);
    await store().put('runs/r1/chunks/streamed.jsonl', Readable.from(lines));
    expect((await store().get('runs/r1/chunks/streamed.jsonl')).toString()).toBe(lines.join(''));
  });

  it('overwrites a key whole: writing the same key twice is harmless', async () => {
    await store().put('k/twice', 'first version, longer');
    await store().put('k/twice', 'second');
    expect((await store().get('k/twice')).toString()).toBe('second');
  });

  it('says NotFoundError for a missing object, and exists() is false', async () => {
    await expect(store().get('no/such/key')).rejects.toBeInstanceOf(NotFoundError);
    await expect(store().getStream('no/such/key')).rejects.toBeInstanceOf(NotFoundError);
    expect(await store().exists('no/such/key')).toBe(false);
  });

  it('maps keys to URIs and back', () => {
    const uri = store().uri('runs/r1/summary.json');
    expect(uri.startsWith(kind === 's3' ? 's3://phudge/fleet/' : 'file:///')).toBe(true);
    expect(store().keyOf(uri)).toBe('runs/r1/summary.json');
    expect(() => store().keyOf('s3://elsewhere/x')).toThrow(/not in the store/);
  });

  it('lists every key under a folder, over more than one page', async () => {
    // More than S3's (and s3rver's) page of 1000 keys, so that the continuation is followed.
    const keys = Array.from(
      { length: 1100 },
      (_, i) => `runs/listed/parts/part-${String(i).padStart(6, '0')}.json`,
    );
    for (let i = 0; i < keys.length; i += 100)
      await Promise.all(keys.slice(i, i + 100).map((key) => store().put(key, '{}')));
    await store().put('runs/listed/run.json', '{}');
    await store().put('runs/listed-other/run.json', '{}');
    expect(await store().list('runs/listed/parts/')).toEqual(keys);
    expect(await store().list('runs/listed/')).toEqual([...keys, 'runs/listed/run.json']);
    expect(await store().list('runs/nothing-here/')).toEqual([]);
    await expect(store().list('runs/listed')).rejects.toThrow(/must end in \//);
  });

  it('lists the folders directly under a folder', async () => {
    await store().put('folders/a/run.json', '{}');
    await store().put('folders/b/run.json', '{}');
    await store().put('folders/b/parts/part-000000.json', '{}');
    await store().put('folders/top-level-object', '{}');
    expect(await store().listFolders('folders/')).toEqual(['a', 'b']);
    expect(await store().listFolders('no-such-folder/')).toEqual([]);
  });

  it('refuses keys that climb out of the store', async () => {
    await expect(store().put('../escape', 'x')).rejects.toThrow(/invalid object key/);
  });
});
