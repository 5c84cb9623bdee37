import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createS3Client, S3ObjectStore, UnrecoverableError } from '@phudge/core';
import { loadBundle, resolveModel } from '@phudge/judge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS_DIR } from '../support/paths.js';
import { startS3rver, type TestS3 } from '../support/s3rver.js';

const FILES = ['judge.json', 'model.onnx', 'tokenizer.json', 'tokenizer_config.json'];

describe('judge bundles from S3', () => {
  let s3: TestS3;
  let cache: string;
  let settings: { endpoint: string; forcePathStyle: boolean; region: string };
  let store: S3ObjectStore;

  beforeAll(async () => {
    s3 = await startS3rver();
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    settings = { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' };
    store = new S3ObjectStore(`s3://${s3.bucket}/bundles`, createS3Client(settings));
    for (const file of FILES)
      await store.put(`tiny/${file}`, await readFile(join(MODELS_DIR, 'tiny-judge', file)));
    for (const file of FILES) {
      const body = await readFile(join(MODELS_DIR, 'tiny-judge', file));
      await store.put(
        `corrupt/${file}`,
        file === 'model.onnx' ? Buffer.concat([body, Buffer.from('x')]) : body,
      );
    }
    cache = await mkdtemp(join(tmpdir(), 'model-cache-'));
  });
  afterAll(async () => {
    await store?.close();
    await s3?.close();
    await rm(cache, { recursive: true, force: true });
  });

  it('downloads a bundle once, verified, and reuses it without the store', async () => {
    const dir = await resolveModel(`s3://${s3.bucket}/bundles/tiny`, cache, settings);
    expect((await loadBundle(dir)).modelId).toBe('tiny-judge@0.1.0');
    await s3.stop(); // a restart finds it in the cache: no store needed
    try {
      expect(await resolveModel(`s3://${s3.bucket}/bundles/tiny/`, cache, settings)).toBe(dir);
    } finally {
      await s3.start();
    }
  });

  it('refuses a bundle whose model does not match its sha256, and caches nothing of it', async () => {
    const before = await readdir(cache);
    const error = await resolveModel(`s3://${s3.bucket}/bundles/corrupt`, cache, settings).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toMatch(/model\.onnx is corrupt/);
    expect(await readdir(cache)).toEqual(before);
  });

  it('names a bundle that is not there', async () => {
    await expect(resolveModel(`s3://${s3.bucket}/bundles/none`, cache, settings)).rejects.toThrow(
      /missing judge\.json/,
    );
  });

  it('passes a local directory through', async () => {
    expect(await resolveModel('models/tiny-judge', cache, settings)).toMatch(/models\/tiny-judge$/);
  });
});
