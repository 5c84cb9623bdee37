import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle } from '@phudge/judge';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';

/** A Python with what the exporter needs (transformers, peft, onnxruntime), if this machine has one. */
function exportPython(): string | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', 'import torch, transformers, peft, onnx, onnxruntime'], {
      stdio: 'ignore',
    });
    if (probe.status === 0) return python;
  }
  return undefined;
}

const python = exportPython();
if (!python) {
  console.warn(
    'export test skipped: no Python here has torch, transformers, peft, onnx and onnxruntime ' +
      '(pip install -r models/export/requirements.txt); it runs on a machine that has them.',
  );
}

describe.skipIf(!python)('PHUDGE export (needs transformers and peft)', () => {
  let dir: string;
  afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  it('exports a tiny random Phi-3 with a LoRA adapter at fp32 parity and phudge grade loads it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'export-'));
    execFileSync(python as string, ['-m', 'models.export.make_test_model', dir], {
      cwd: REPO_ROOT,
      stdio: 'pipe',
    });
    const out = join(dir, 'bundle');
    execFileSync(
      python as string,
      [
        '-m',
        'models.export.export',
        '--base',
        join(dir, 'base'),
        '--adapter',
        join(dir, 'adapter'),
        '--head',
        'regression',
        '--dtype',
        'fp32',
        '--out',
        out,
        '--device',
        'cpu',
      ],
      { cwd: REPO_ROOT, stdio: 'pipe' },
    );
    const parity = JSON.parse(await readFile(join(out, 'parity.json'), 'utf8'));
    expect(parity.max_abs_diff).toBeLessThanOrEqual(1e-4);
    expect(parity.tokenizer_mismatches).toEqual([]);
    expect((await loadBundle(out)).manifest.provenance).toMatchObject({ adapter: join(dir, 'adapter') });

    const input = join(dir, 'in.jsonl');
    await writeFile(input, `${JSON.stringify({ id: 'a', instruction: 'Q?', response: 'A.' })}\n`);
    const graded = execFileSync(
      process.execPath,
      [join(REPO_ROOT, 'services/cli/bin/phudge.js'), 'grade', input, '--model', out],
      {
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(graded)).toMatchObject({ id: 'a', model: 'phudge@1.0.0' });
  }, 600_000);
});
