import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  createS3Client,
  judgeManifestSchema,
  NotFoundError,
  S3ObjectStore,
  type S3Settings,
  UnrecoverableError,
} from '@phudge/core';
import { loadBundle, MANIFEST_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from './bundle.js';

/** Written last into a cached bundle: its presence means every file arrived and was verified. */
const COMPLETE_MARKER = '.complete';

/** Where downloaded bundles are kept when PHUDGE_MODEL_CACHE is not set. */
export function defaultModelCache(): string {
  return join(homedir(), '.cache', 'phudge', 'models');
}

/**
 * The local folder of a judge bundle: a local path as it is; an `s3://bucket/prefix` bundle is
 * downloaded once into `cacheDir`, verified against its manifest's sha256, and reused on later
 * starts (a worker pod restarting does not download gigabytes again). Concurrent downloads into
 * the same cache (two workers on a node) are safe: each writes aside and renames.
 */
export async function resolveModel(model: string, cacheDir: string, s3: S3Settings): Promise<string> {
  if (!model.startsWith('s3://')) return resolve(model);
  const url = model.replace(/\/+$/, '');
  const target = join(resolve(cacheDir), createHash('sha256').update(url).digest('hex').slice(0, 24));
  if (await exists(join(target, COMPLETE_MARKER))) return target;

  const store = new S3ObjectStore(url, createS3Client(s3));
  const staging = `${target}.${randomUUID()}.partial`;
  try {
    await mkdir(staging, { recursive: true });
    await download(store, url, MANIFEST_FILE, staging);
    const parsed = judgeManifestSchema.safeParse(
      JSON.parse(await readFile(join(staging, MANIFEST_FILE), 'utf8')),
    );
    if (!parsed.success) throw new UnrecoverableError(`judge bundle ${url}: ${MANIFEST_FILE} is invalid`);
    const files = [parsed.data.model_file, parsed.data.external_data, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE];
    for (const file of files.filter((f): f is string => f !== undefined))
      await download(store, url, file, staging);
    await loadBundle(staging); // checks every file and the sha256 of the model
    await writeFile(join(staging, COMPLETE_MARKER), new Date().toISOString());
    await rename(staging, target).catch(async (error: NodeJS.ErrnoException) => {
      // Another process finished the same download first: use its copy.
      if (!(await exists(join(target, COMPLETE_MARKER)))) throw error;
    });
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true });
    await store.close();
  }
}

/** Streams one bundle file to disk: model weights run to gigabytes and must never sit in memory whole. */
async function download(store: S3ObjectStore, url: string, file: string, dir: string): Promise<void> {
  let body: Readable;
  try {
    body = await store.getStream(file);
  } catch (error) {
    if (error instanceof NotFoundError) throw new UnrecoverableError(`judge bundle ${url}: missing ${file}`);
    throw error;
  }
  await pipeline(body, createWriteStream(join(dir, file)));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
