import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JudgeTokenizer, loadBundle } from '@phudge/judge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MODELS_DIR, REPO_ROOT } from '../support/paths.js';

/** The exporter's bundle writer (pure Python, no torch): what it writes, the TypeScript loader must accept. */
function writeManifest(dir: string, ...extra: string[]): void {
  execFileSync(
    'python3',
    [
      '-m',
      'models.export.bundle',
      dir,
      '--name',
      'exported',
      '--version',
      '2.0.0',
      '--head',
      'regression',
      '--max-length',
      '2048',
      ...extra,
    ],
    { cwd: REPO_ROOT, stdio: 'pipe' },
  );
}

describe('exporter bundle writer', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'exported-'));
    for (const file of ['model.onnx', 'tokenizer.json', 'tokenizer_config.json']) {
      await copyFile(join(MODELS_DIR, 'tiny-judge', file), join(dir, file));
    }
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes a judge.json the engine loads, with the sha256 and provenance', async () => {
    writeManifest(dir, '--provenance', '{"base_model": "Phi-3-mini-4k-instruct", "revision": "pre-2024-07"}');
    const bundle = await loadBundle(dir);
    expect(bundle.modelId).toBe('exported@2.0.0');
    expect(bundle.manifest).toMatchObject({
      head: 'regression',
      max_length: 2048,
      provenance: { revision: 'pre-2024-07' },
    });
  });

  it('records external weights with their own sha256, and the loader checks them', async () => {
    await writeFile(join(dir, 'model.onnx.data'), Buffer.alloc(1024, 7));
    writeManifest(dir, '--external-data', 'model.onnx.data');
    const manifest = JSON.parse(await readFile(join(dir, 'judge.json'), 'utf8'));
    expect(manifest.external_data).toBe('model.onnx.data');
    await expect(loadBundle(dir)).resolves.toBeDefined();
    await writeFile(join(dir, 'model.onnx.data'), Buffer.alloc(1024, 8));
    await expect(loadBundle(dir)).rejects.toThrow(/model\.onnx\.data is corrupt/);
  });

  it('match_slow makes the fleet encode as transformers 4 slow LlamaTokenizer does, and keeps doing so', async () => {
    // slow_ids.json: transformers 4.57's own ids for the test tokenizer (models/export/slow_fixture.py).
    const fixture: { texts: string[]; ids: { phi3: number[][] } } = JSON.parse(
      await readFile(join(REPO_ROOT, 'models/export/slow_ids.json'), 'utf8'),
    );
    const encodeAll = async () => {
      const tokenizer = await JudgeTokenizer.load(await loadBundle(dir));
      const encoded = await tokenizer.encode(fixture.texts);
      expect(encoded.every((ids) => ids[0] === tokenizer.bosId)).toBe(true);
      return encoded.map((ids) => ids.slice(1));
    };
    const slow = fixture.ids.phi3;
    const indexesWhere = (keep: (i: number) => boolean) =>
      fixture.texts.flatMap((_, i) => (keep(i) ? [i] : []));

    writeManifest(dir);
    const asShipped = await encodeAll();
    // Phi-3's tokenizer.json puts "▁" after every special token: each of the 12 parity prompts
    // (the fixture's last texts) differs from the slow ids, plain text ("Hello", first) does not.
    const differing = indexesWhere((i) => JSON.stringify(asShipped[i]) !== JSON.stringify(slow[i]));
    const prompts = indexesWhere((i) => i >= fixture.texts.length - 12);
    expect(differing).toEqual(expect.arrayContaining(prompts));
    expect(differing).not.toContain(0);

    execFileSync('python3', ['-m', 'models.export.match_slow', dir], { cwd: REPO_ROOT, stdio: 'pipe' });
    expect(JSON.parse(await readFile(join(dir, 'judge.json'), 'utf8'))).toMatchObject({
      name: 'exported',
      text_prefix: '\u2581',
    });
    expect(await encodeAll()).toEqual(slow);

    // Rewriting the manifest (a new version, say) keeps the prefix the rewritten tokenizer needs.
    writeManifest(dir);
    expect(await encodeAll()).toEqual(slow);
  });

  it('refuses to write a manifest without the tokenizer files', async () => {
    await rm(join(dir, 'tokenizer.json'));
    expect(() => writeManifest(dir)).toThrow(/tokenizer\.json is missing/);
  });
});
