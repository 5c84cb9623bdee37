import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';
import { exportPython, findOrSkip } from '../support/prerequisites.js';

const python = findOrSkip(exportPython());

interface PathReport {
  items_per_s: number;
  items_per_cpu_s: number;
  cpu_runs_s: number[];
  tokens_per_s: number;
  tflops: number;
  mfu: number | null;
  runs_s: number[];
}

describe.skipIf(!python)('bench/gpu --smoke (needs the export Python)', () => {
  it('exports, batches and grades on every path, and reports rates and MFU in one JSON', () => {
    // --peak-tflops gives the CPU a peak so that the MFU arithmetic runs as it does on a GPU.
    const stdout = execFileSync(
      python as string,
      [
        join(REPO_ROOT, 'bench/gpu/gpu_check.py'),
        ...['--smoke', '--items', '8', '--repeats', '1', '--threads', '1', '--peak-tflops', '2'],
      ],
      { cwd: REPO_ROOT, encoding: 'utf8', stdio: 'pipe' },
    );
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ smoke: true, device: 'cpu', peak_fp16_tflops: 2 });
    expect(report.model).toMatchObject({ num_hidden_layers: 2, dtype: 'fp32' });
    expect(report.parity.passed).toBe(true);

    const { workload } = report;
    expect(workload.items).toBe(8);
    expect(workload.batches).toBeGreaterThan(0);
    expect(workload.real_tokens).toBeLessThanOrEqual(workload.padded_tokens);
    // At least the weights' share: 2 FLOPs per matmul weight per real token.
    const matmulTflop = (2 * report.model.matmul_parameters * workload.tokens_per_item) / 1e12;
    expect(workload.useful_tflop_per_item).toBeGreaterThan(matmulTflop);

    const paths: [string, PathReport][] = [
      ['onnxruntime', report.onnxruntime],
      ['pytorch', report.pytorch],
      ['node_worker', report.node_worker],
    ];
    for (const [name, path] of paths) {
      expect(path.runs_s, name).toHaveLength(1);
      const seconds = path.runs_s[0] as number;
      expect(path.items_per_s, name).toBeCloseTo(8 / seconds, 6);
      expect(path.tokens_per_s, name).toBeCloseTo(workload.real_tokens / seconds, 3);
      expect(path.mfu, name).toBeCloseTo(path.tflops / 2, 9);
    }
    expect(report.onnxruntime.provider).toBe('CPUExecutionProvider');
    expect(report.node_worker.provider).toBe('cpu');
    // The peer computes the bundle's scores, so its speed compares like with like.
    expect(report.pytorch.max_abs_diff_vs_onnxruntime).toBeLessThanOrEqual(1e-4);
    expect(report.onnxruntime_vs_pytorch).toBeCloseTo(
      report.onnxruntime.items_per_s / report.pytorch.items_per_s,
      9,
    );
    expect(report.node_worker_vs_pytorch).toBeCloseTo(
      report.node_worker.items_per_s / report.pytorch.items_per_s,
      9,
    );
    // npm run bench's figure: the same ratio per CPU second of each process.
    for (const [name, path] of paths) {
      expect(path.cpu_runs_s, name).toHaveLength(1);
      expect(path.items_per_cpu_s, name).toBeCloseTo(8 / (path.cpu_runs_s[0] as number), 6);
    }
    expect(report.node_worker_vs_pytorch_cpu).toBeCloseTo(
      report.node_worker.items_per_cpu_s / report.pytorch.items_per_cpu_s,
      9,
    );
    // The exporter's default graph, with the pooled last layer.
    expect(report.model).toMatchObject({ graph: 'fused', last_layer: 'pooled position' });
    expect(Object.keys(report.phases_s)).toEqual([
      'weights',
      'export',
      'batches',
      'onnxruntime',
      'pytorch',
      'node',
    ]);
  }, 240_000);
});
