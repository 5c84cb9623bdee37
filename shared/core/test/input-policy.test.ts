import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, type TestS3 } from '../../../test/support/s3rver.js';
import {
  InputForbiddenError,
  InputNotFoundError,
  InputPolicy,
  loadConfig,
  openStore,
  resolveInputs,
  type S3Settings,
} from '../src/index.js';

let base: string;
let root: string;
let outside: string;
let s3: TestS3;
const url = (path: string) => pathToFileURL(path).href;

/** Reads one input as the producer does: through the policy, and the file it resolved to. */
async function readInput(uri: string, s3Settings: S3Settings, policy: InputPolicy): Promise<string> {
  const inputs = await resolveInputs([uri], { s3: s3Settings, policy });
  try {
    const [file] = inputs.files;
    if (!file) throw new Error(`${uri} resolved to no file`);
    return await text(await file.stream());
  } finally {
    await inputs.close();
  }
}

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'input-policy-')));
  root = join(base, 'inputs');
  outside = join(base, 'secret');
  await mkdir(join(root, 'nightly'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, 'nightly', 'logs.jsonl'), '{"id":"a"}\n');
  await writeFile(join(outside, 'key.txt'), 'top secret\n');
  await symlink(join(outside, 'key.txt'), join(root, 'link-to-secret.jsonl'));
  await symlink(outside, join(root, 'linked-dir'));
  s3 = await startS3rver();
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
  await s3?.close();
});

function policy(options: { roots?: string[]; buckets?: string[] } = {}) {
  return new InputPolicy({
    storeUrl: 's3://phudge/fleet',
    roots: options.roots ?? [root],
    buckets: options.buckets ?? [],
  });
}

async function refusal(check: Promise<unknown>): Promise<string> {
  const error = await check.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputForbiddenError);
  return (error as Error).message;
}

describe('file:// inputs', () => {
  it('refuses every file:// input when no root is configured (the default)', async () => {
    await refusal(policy({ roots: [] }).check(url(join(root, 'nightly', 'logs.jsonl'))));
  });

  it('refuses file:///etc/passwd', async () => {
    await refusal(policy().check('file:///etc/passwd'));
  });

  it('refuses a path that leaves the root with ..', async () => {
    await refusal(policy().check(`${url(root)}/nightly/../../secret/key.txt`));
  });

  it('refuses .. however it is spelled: percent-encoded dots, an encoded slash, another host', async () => {
    await refusal(policy().check(`${url(root)}/nightly/%2e%2e/%2E%2E/secret/key.txt`));
    await refusal(policy().check(`${url(root)}/nightly/..%2F..%2Fsecret/key.txt`));
    await refusal(policy().check(`file://elsewhere${root}/nightly/logs.jsonl`));
  });

  it('refuses a symlink inside the root that points out of it, file or folder', async () => {
    await refusal(policy().check(url(join(root, 'link-to-secret.jsonl'))));
    await refusal(policy().check(url(join(root, 'linked-dir', 'key.txt'))));
    await refusal(policy().check(url(join(root, 'linked-dir', 'missing.txt'))));
  });

  it('answers a file outside the roots the same whether it exists or not', async () => {
    const existing = await refusal(policy().check(url(join(outside, 'key.txt'))));
    const missing = await refusal(policy().check(url(join(outside, 'nothing.txt'))));
    expect(missing.replace('nothing.txt', 'key.txt')).toBe(existing);
  });

  it('says a missing file inside a root is missing, without more than the URI given', async () => {
    const uri = url(join(root, 'nightly', 'missing.jsonl'));
    const error = await policy()
      .check(uri)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputNotFoundError);
    expect((error as Error).message).toBe(
      `cannot read input ${uri}: it does not exist or is not a readable file`,
    );
  });

  it('reads a file under a root, by its real path', async () => {
    const uri = url(join(root, 'nightly', 'logs.jsonl'));
    expect(await policy().check(uri)).toEqual({ kind: 'file', path: join(root, 'nightly', 'logs.jsonl') });
    expect(await readInput(uri, {}, policy())).toBe('{"id":"a"}\n');
  });

  it('refuses anything that is not an s3:// or file:// URI', async () => {
    await refusal(policy().check(join(root, 'nightly', 'logs.jsonl')));
    await refusal(policy().check('http://169.254.169.254/latest/meta-data/'));
  });

  it('reads inputs in a file:// store, where phudge submit uploads them', async () => {
    const store = new InputPolicy({ storeUrl: url(join(root, 'nightly')), roots: [], buckets: [] });
    expect(await store.check(url(join(root, 'nightly', 'logs.jsonl')))).toMatchObject({ kind: 'file' });
    await refusal(store.check(url(join(outside, 'key.txt'))));
  });
});

describe('s3:// inputs', () => {
  it('allows the store itself and refuses the rest of its bucket by default', async () => {
    expect(await policy().check('s3://phudge/fleet/inputs/run-1.jsonl')).toEqual({
      kind: 's3',
      bucket: 'phudge',
      key: 'fleet/inputs/run-1.jsonl',
    });
    await refusal(policy().check('s3://phudge/other/run-1.jsonl'));
    await refusal(policy().check('s3://phudge/fleet-other/run-1.jsonl'));
  });

  it('refuses a foreign bucket, and allows it once listed', async () => {
    await refusal(policy().check('s3://payroll/2026/salaries.jsonl'));
    const listed = policy({ buckets: ['s3://logs', 's3://payroll/exports/'] });
    expect(await listed.check('s3://logs/any/key.jsonl')).toMatchObject({ bucket: 'logs' });
    expect(await listed.check('s3://payroll/exports/a.jsonl')).toMatchObject({ bucket: 'payroll' });
    await refusal(listed.check('s3://payroll/2026/salaries.jsonl'));
  });

  it('lists a prefix or a glob only inside an allowed bucket prefix', () => {
    const listed = policy({ buckets: ['s3://logs/nightly/'] });
    expect(() =>
      listed.checkS3Folder('s3://logs/nightly/2026-12-01/', 'logs', 'nightly/2026-12-01/'),
    ).not.toThrow();
    expect(() => listed.checkS3Folder('s3://logs/*.jsonl', 'logs', '')).toThrow(InputForbiddenError);
    expect(() => listed.checkS3Folder('s3://logs/night*/x', 'logs', 'night')).toThrow(InputForbiddenError);
    expect(() => listed.checkS3Folder('s3://logs/nightly/../x/', 'logs', 'nightly/../x/')).toThrow(
      InputForbiddenError,
    );
  });

  it('refuses keys with . or .. segments', async () => {
    await refusal(policy().check('s3://phudge/fleet/../payroll/a.jsonl'));
    await refusal(policy().check('s3://phudge/fleet/./a.jsonl'));
  });

  it('opens an allowed object and says a missing one is missing', async () => {
    const store = openStore(loadConfig({}, { ...s3.env, PHUDGE_STORE_URL: `s3://${s3.bucket}/fleet` }));
    await store.put('inputs/a.jsonl', '{"id":"s3"}\n');
    await store.close();
    const allowed = new InputPolicy({ storeUrl: `s3://${s3.bucket}/fleet`, roots: [], buckets: [] });
    const settings = { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' };
    expect(await readInput(`s3://${s3.bucket}/fleet/inputs/a.jsonl`, settings, allowed)).toBe(
      '{"id":"s3"}\n',
    );
    await expect(
      readInput(`s3://${s3.bucket}/fleet/inputs/b.jsonl`, settings, allowed),
    ).rejects.toBeInstanceOf(InputNotFoundError);
  });
});

describe('config', () => {
  it('fails at start-up naming the key of a bad root or bucket', () => {
    expect(() => loadConfig({}, { PHUDGE_INPUT_ROOTS: 'relative/dir' })).toThrow(/input\.roots/);
    expect(() => loadConfig({}, { PHUDGE_INPUT_BUCKETS: 'logs' })).toThrow(/input\.buckets/);
    expect(loadConfig({}, { PHUDGE_INPUT_ROOTS: '/data/in, file:///mnt/logs' }).input.roots).toBe(
      '/data/in, file:///mnt/logs',
    );
  });
});
