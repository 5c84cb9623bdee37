import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle } from '@phudge/judge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';
import { exportPython, findOrSkip } from '../support/prerequisites.js';

const python = findOrSkip(exportPython());

interface Parity {
  max_abs_diff: number;
  max_abs_diff_left: number;
  max_abs_diff_right: number;
  max_abs_diff_unpadded: number;
  tolerance: number;
  prompts: number;
  prompt_tokens: [number, number];
  sliding_window: number | null;
  tokenizer_compared: boolean;
  tokenizer_mismatches: { prompt: number; first_difference: number; fleet: number[]; slow: number[] }[];
}

function runPython(args: string[]): string {
  return execFileSync(python as string, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: 'pipe' });
}

/** How many nodes of each op type (domain-qualified past the default one) the bundle's graph has. */
function graphOps(bundle: string): Record<string, number> {
  const script = [
    'import collections, json, sys, onnx',
    'graph = onnx.load(sys.argv[1], load_external_data=False).graph',
    'print(json.dumps(collections.Counter((n.domain + "::" if n.domain else "") + n.op_type for n in graph.node)))',
  ].join('\n');
  return JSON.parse(runPython(['-c', script, join(bundle, 'model.onnx')]));
}

// The test model's two decoder layers (make_test_model.py).
const LAYERS = 2;

describe.skipIf(!python)('PHUDGE export (needs torch, transformers and peft)', () => {
  let dir: string;
  let input: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'export-'));
    runPython(['-m', 'models.export.make_test_model', dir]);
    input = join(dir, 'in.jsonl');
    const lines = [
      { id: 'a', instruction: 'Q?', response: 'A.' },
      { id: 'b', instruction: 'What is 2+2?', response: '4', reference: '4', rubric: 'factual_accuracy' },
    ];
    await writeFile(input, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
  }, 120_000);
  afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  /** Runs the exporter into dir/name and returns the bundle's parity report. */
  async function exportBundle(name: string, args: string[]): Promise<{ out: string; parity: Parity }> {
    const out = join(dir, name);
    runPython(['-m', 'models.export.export', ...args, '--out', out, '--device', 'cpu']);
    return { out, parity: JSON.parse(await readFile(join(out, 'parity.json'), 'utf8')) };
  }

  function grade(bundle: string): Record<string, unknown>[] {
    const cli = join(REPO_ROOT, 'services/cli/bin/phudge.js');
    const stdout = execFileSync(process.execPath, [cli, 'grade', input, '--model', bundle], {
      encoding: 'utf8',
    });
    return stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
  }

  it('rebuilds the slow SentencePiece tokenizer exactly as transformers 4 encodes', () => {
    const report = JSON.parse(runPython(['-m', 'models.export.slow_fixture']));
    expect(report.failures).toEqual([]);
    expect(report.cases).toBeGreaterThanOrEqual(60);
  });

  it('exports a tiny Phi-3 with a merged LoRA at fp32 parity, and phudge grade loads it', async () => {
    const base = join(dir, 'base');
    const adapter = join(dir, 'adapter');
    const { out, parity } = await exportBundle('fp32', [
      ...['--base', base, '--adapter', adapter, '--head', 'regression', '--dtype', 'fp32'],
    ]);
    expect(parity.max_abs_diff).toBeLessThanOrEqual(1e-4);
    // Padded left, padded right, and the transformers model alone on each unpadded prompt.
    for (const diff of [parity.max_abs_diff_left, parity.max_abs_diff_right, parity.max_abs_diff_unpadded]) {
      expect(diff).toBeLessThanOrEqual(1e-4);
    }
    // Every prompt is longer than the model's attention window, so the window is exercised.
    expect(parity.sliding_window).toBe(48);
    expect(parity.prompt_tokens[0]).toBeGreaterThan(48);

    // The test tokenizer has Phi-3's layout: its tokenizer.json puts "▁" after every special
    // token, while the slow tokenizer (legacy: false) puts one "▁" before the first. The report
    // must show that on every prompt, not stay silent.
    expect(parity.tokenizer_compared).toBe(true);
    expect(parity.tokenizer_mismatches).toHaveLength(parity.prompts);
    const first = parity.tokenizer_mismatches[0];
    expect(first?.first_difference).toBe(1);
    expect(first?.slow.slice(0, 2)).toEqual([first?.fleet[1], first?.fleet[0]]);

    // The default graph is the fused one: attention, rotary and window in GroupQueryAttention
    // (all but the last layer, which runs at the pooled position only), RMSNorm and residual
    // adds in the fused norms, and no [sequence, sequence] mask or Softmax outside the pooled query.
    const ops = graphOps(out);
    expect(ops['com.microsoft::GroupQueryAttention']).toBe(LAYERS - 1);
    expect(ops['com.microsoft::SkipSimplifiedLayerNormalization']).toBe(2 * LAYERS);
    expect(ops.SimplifiedLayerNormalization).toBe(1);
    expect(ops['com.microsoft::RotaryEmbedding']).toBe(2); // the pooled layer's query and keys
    expect(ops.Softmax).toBe(1);

    const bundle = await loadBundle(out);
    expect(bundle.manifest.provenance).toMatchObject({
      adapter,
      dtype: 'fp32',
      graph: 'fused',
      last_layer: 'pooled position',
    });
    expect(bundle.manifest.external_data).toBeUndefined();
    // The source's tokenizer files travel byte for byte (the fleet sanitizes its added tokens).
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
      expect(await readFile(join(out, file), 'utf8')).toBe(await readFile(join(base, file), 'utf8'));
    }
    const graded = grade(out);
    expect(graded.map((r) => r.id)).toEqual(['a', 'b']);
    for (const result of graded) {
      expect(result).toMatchObject({ model: 'phudge@1.0.0', truncated: false });
      expect(result.score).toBeGreaterThanOrEqual(1);
      expect(result.score).toBeLessThanOrEqual(5);
    }
  }, 300_000);

  it('exports fp16 weights with a float32 output, external data and the slow tokenizer matched', async () => {
    const { out, parity } = await exportBundle('fp16', [
      ...['--base', join(dir, 'base'), '--adapter', join(dir, 'adapter')],
      ...['--head', 'regression', '--dtype', 'fp16', '--external-data', '--match-slow-tokenizer'],
    ]);
    expect(parity.tolerance).toBe(2e-2);
    expect(parity.max_abs_diff).toBeLessThanOrEqual(2e-2);
    expect(parity.tokenizer_compared).toBe(true);
    expect(parity.tokenizer_mismatches).toEqual([]);
    const bundle = await loadBundle(out);
    expect(bundle.manifest).toMatchObject({ external_data: 'model.onnx.data', text_prefix: '\u2581' });
    // The engine refuses a graph whose output is not float32, so grading at all shows the cast.
    const graded = grade(out);
    expect(graded.map((r) => r.id)).toEqual(['a', 'b']);
    for (const result of graded) expect(result.score).toBeGreaterThanOrEqual(1);
  }, 300_000);

  it("holds parity with the last layer in full and with torch's op-by-op graph, scoring as the default", async () => {
    const common = ['--base', join(dir, 'base'), '--adapter', join(dir, 'adapter'), '--head', 'regression'];
    const full = await exportBundle('full-last-layer', [...common, '--full-last-layer']);
    expect(full.parity.max_abs_diff).toBeLessThanOrEqual(1e-4);
    const fullOps = graphOps(full.out);
    expect(fullOps['com.microsoft::GroupQueryAttention']).toBe(LAYERS);
    expect(fullOps['com.microsoft::RotaryEmbedding']).toBeUndefined();
    expect(fullOps.Softmax).toBeUndefined();

    const torch = await exportBundle('torch-graph', [...common, '--graph', 'torch']);
    expect(torch.parity.max_abs_diff).toBeLessThanOrEqual(1e-4);
    const torchOps = graphOps(torch.out);
    expect(torchOps['com.microsoft::GroupQueryAttention']).toBeUndefined();
    expect((await loadBundle(torch.out)).manifest.provenance).toMatchObject({ graph: 'torch' });

    // Same weights, three graphs: the same scores (to float rounding) on the same items.
    const scores = (bundle: string) => grade(bundle).map((result) => result.score as number);
    const reference = scores(torch.out);
    const fused = scores(join(dir, 'fp32'));
    for (const other of [fused, scores(full.out)]) {
      expect(other).toHaveLength(reference.length);
      for (const [i, score] of other.entries()) {
        expect(Math.abs(score - (reference[i] as number))).toBeLessThanOrEqual(1e-4);
      }
    }
  }, 300_000);

  it('refuses a missing source folder, and an --out that would overwrite a source', () => {
    const fail = (args: string[]) =>
      spawnSync(python as string, ['-m', 'models.export.export', ...args], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      });
    const missing = fail(['--base', join(dir, 'nope'), '--out', join(dir, 'x')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope is not a folder/);
    const overwrite = fail(['--base', join(dir, 'base'), '--out', join(dir, 'base')]);
    expect(overwrite.status).toBe(2);
    expect(overwrite.stderr).toMatch(/is one of the source folders/);
  });

  it('exports a merged causal-LM checkpoint with the causal head', async () => {
    const { out, parity } = await exportBundle('causal-bundle', [
      ...['--base', join(dir, 'base'), '--merged', join(dir, 'causal'), '--head', 'causal'],
    ]);
    expect(parity.max_abs_diff).toBeLessThanOrEqual(1e-4);
    // The checkpoint's tokenizer was saved by transformers 5, incomplete: the base's is used, so
    // the slow tokenizer is still compared and the added tokens still reach the sanitizer.
    expect(parity.tokenizer_compared).toBe(true);
    expect(await readFile(join(out, 'tokenizer_config.json'), 'utf8')).toBe(
      await readFile(join(dir, 'base', 'tokenizer_config.json'), 'utf8'),
    );
    expect((await loadBundle(out)).manifest).toMatchObject({
      head: 'causal',
      score_tokens: ['1', '2', '3', '4', '5'],
    });
    for (const result of grade(out)) {
      const probabilities = result.probabilities as number[];
      expect(probabilities).toHaveLength(5);
      expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    }
  }, 300_000);
});
