import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS_DIR } from '../../../test/support/paths.js';
import type { Engine, EngineOutput } from '../src/index.js';
import { startTinyEngine } from './tiny-engine.js';

/** PyTorch reference outputs written by models/generate.py for a fixed batch, padded both ways. */
interface Golden {
  ids: number[][];
  left: { input_ids: number[][]; attention_mask: number[][]; logits: number[][] };
  right: { input_ids: number[][]; attention_mask: number[][]; logits: number[][] };
  score_token_ids?: number[];
}

const TOLERANCE = 1e-4;

function toBatch(rows: number[][], mask: number[][]) {
  const columns = (rows[0] as number[]).length;
  return {
    rows: rows.length,
    columns,
    inputIds: BigInt64Array.from(rows.flat(), BigInt),
    attentionMask: BigInt64Array.from(mask.flat(), BigInt),
  };
}

/** The model's output row for each prompt, narrowed to the columns PyTorch's golden file kept. */
function rowsOf(output: EngineOutput, columns?: number[]): number[][] {
  const width = output.logits.length / output.rows;
  return Array.from({ length: output.rows }, (_, row) => {
    const full = Array.from(output.logits.subarray(row * width, (row + 1) * width));
    return columns ? columns.map((c) => full[c] as number) : full;
  });
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  let max = 0;
  a.forEach((row, i) => {
    row.forEach((value, j) => {
      max = Math.max(max, Math.abs(value - (b[i]?.[j] ?? Number.NaN)));
    });
  });
  return max;
}

describe.each(['tiny-judge', 'tiny-judge-classif', 'tiny-judge-causal', 'bench-judge'])(
  'ONNX Runtime parity with PyTorch: %s',
  (name) => {
    const dir = join(MODELS_DIR, name);
    const golden: Golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
    let engine: Engine;

    beforeAll(async () => {
      engine = await startTinyEngine(name);
    });
    afterAll(() => engine?.close());

    it.each(['left', 'right'] as const)('matches the %s-padded golden batch within 1e-4', async (side) => {
      const { input_ids, attention_mask, logits } = golden[side];
      const output = await engine.run(toBatch(input_ids, attention_mask));
      expect(maxAbsDiff(rowsOf(output, golden.score_token_ids), logits)).toBeLessThanOrEqual(TOLERANCE);
    });

    it('scores each prompt the same whether the batch is padded left or right', async () => {
      const left = await engine.run(toBatch(golden.left.input_ids, golden.left.attention_mask));
      const right = await engine.run(toBatch(golden.right.input_ids, golden.right.attention_mask));
      expect(
        maxAbsDiff(rowsOf(left, golden.score_token_ids), rowsOf(right, golden.score_token_ids)),
      ).toBeLessThanOrEqual(TOLERANCE);
    });
  },
);
