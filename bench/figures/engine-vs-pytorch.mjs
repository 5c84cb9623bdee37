// engine_vs_pytorch and engine_vs_pytorch_wide: items/s of a judge bundle exported by
// models/export, through onnxruntime-node as a worker runs it (the fleet's Judge), over
// transformers' PyTorch model (SDPA attention) on the same batches, one thread each, in the same
// run: bench/gpu/gpu_check.py on the CPU, for a small Phi-3-shaped judge and for one layer of
// Phi-3-mini's real widths. Each side's rate is per second of its own process's CPU time (one
// thread each): the box's cores are shared, and wall time would measure the neighbours; the
// wall-clock ratio is kept in the details. Needs the export Python (PHUDGE_EXPORT_PYTHON, else .venv-export from
// models/export/setup.sh); without it both are reported as not measured, and why.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CHECK = `${REPO}bench/gpu/gpu_check.py`;
// Wide items cost ~0.25 TFLOP each on one CPU thread: two keep the figure to about a minute.
const RUNS = {
  engine_vs_pytorch: ['--shape', 'small', '--items', '32', '--repeats', '3'],
  engine_vs_pytorch_wide: ['--shape', 'wide', '--items', '2', '--repeats', '1'],
};

function exportPython() {
  const python = process.env.PHUDGE_EXPORT_PYTHON ?? `${REPO}.venv-export/bin/python`;
  return existsSync(python) ? python : undefined;
}

export async function engineVsPytorchFigures() {
  const python = exportPython();
  if (!python) return { details: { notMeasured: 'no export Python: bash models/export/setup.sh' } };
  const figures = {};
  const details = {};
  for (const [figure, args] of Object.entries(RUNS)) {
    const out = execFileSync(
      python,
      [CHECK, '--smoke', ...args, '--threads', '1', '--paths', 'pytorch,node'],
      { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const report = JSON.parse(out);
    figures[figure] = report.node_worker_vs_pytorch_cpu;
    details[figure] = {
      shape: report.shape,
      layers: report.model.num_hidden_layers,
      graph: `${report.model.graph}, last layer: ${report.model.last_layer}`,
      parameters: report.model.parameters,
      items: report.workload.items,
      tokensPerItem: report.workload.tokens_per_item,
      nodeItemsPerCpuSecond: report.node_worker.items_per_cpu_s,
      pytorchItemsPerCpuSecond: report.pytorch.items_per_cpu_s,
      wallClockRatio: report.node_worker_vs_pytorch,
      nodeItemsPerSecond: report.node_worker.items_per_s,
      pytorchItemsPerSecond: report.pytorch.items_per_s,
      pytorch: `torch ${report.pytorch.torch}, transformers ${report.pytorch.transformers}, ${report.pytorch.attention}`,
    };
  }
  return { ...figures, details };
}
