import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError } from '@phudge/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MODELS_DIR } from '../../../test/support/paths.js';
import { JudgeTokenizer, loadBundle } from '../src/index.js';

describe('judge bundle loading', () => {
  let dir: string;
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'bundle-')), 'judge');
    await cp(join(MODELS_DIR, 'tiny-judge'), dir, { recursive: true });
  });
  afterEach(() => rm(join(dir, '..'), { recursive: true, force: true }));

  it('loads a valid bundle and names the model name@version', async () => {
    const bundle = await loadBundle(dir);
    expect(bundle.modelId).toBe('tiny-judge@0.1.0');
    expect(bundle.manifest.head).toBe('regression');
  });

  it('refuses a text_prefix that is not one token of the vocabulary', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'judge.json'), 'utf8'));
    await writeFile(join(dir, 'judge.json'), JSON.stringify({ ...manifest, text_prefix: 'no such token' }));
    const error = await JudgeTokenizer.load(await loadBundle(dir)).catch((e) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toMatch(/text_prefix "no such token" is not one token/);
  });

  it('names a missing judge.json', async () => {
    await rm(join(dir, 'judge.json'));
    await expect(loadBundle(dir)).rejects.toThrow(/missing judge\.json/);
  });

  it('names a missing model file', async () => {
    await rm(join(dir, 'model.onnx'));
    await expect(loadBundle(dir)).rejects.toThrow(/missing model\.onnx/);
  });

  it('names a missing tokenizer file', async () => {
    await rm(join(dir, 'tokenizer.json'));
    await expect(loadBundle(dir)).rejects.toThrow(/missing tokenizer\.json/);
  });

  it('rejects a corrupt model file by its sha256', async () => {
    await writeFile(join(dir, 'model.onnx'), 'not a model');
    const error = await loadBundle(dir).catch((e) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toMatch(/model\.onnx is corrupt: sha256 [0-9a-f]{64} does not match/);
  });

  it('names the manifest field at fault', async () => {
    await writeFile(join(dir, 'judge.json'), JSON.stringify({ name: 'x', version: '1', head: 'ranking' }));
    await expect(loadBundle(dir)).rejects.toThrow(/judge\.json: head/);
  });
});
