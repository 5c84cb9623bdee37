import { escapeHtml } from '@phudge/core';
import type { Benchmark } from './benchmarks.js';
import type { EvalMetrics } from './evaluate.js';

const fmt = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(3));
const withInterval = (i: { value: number; low: number; high: number }) =>
  `${fmt(i.value)} [${fmt(i.low)}, ${fmt(i.high)}]`;

export interface EvalReport {
  benchmark: Benchmark;
  metrics: EvalMetrics;
  model: string;
  untrained: boolean;
  seconds: number;
}

/** A markdown table in the shape of the PHUDGE paper's tables, published figures beside measured ones. */
export function markdownReport({ benchmark, metrics, model, untrained, seconds }: EvalReport): string {
  const lines = [`# ${benchmark.name}: ${model}`, ''];
  if (untrained) {
    lines.push(
      `> **${model} is an untrained test judge: these figures mean nothing.** They show the harness works; export real PHUDGE weights (models/README.md) to measure the judge.`,
      '',
    );
  }
  if (metrics.kind === 'absolute') {
    lines.push("| Evaluator | Pearson | Spearman | Kendall's tau | MAE |", '|---|---|---|---|---|');
    for (const p of benchmark.published) lines.push(`| ${p.evaluator} | ${fmt(p.value)} | - | - | - |`);
    lines.push(
      `| ${model} (measured, n=${metrics.n}) | ${withInterval(metrics.pearson)} | ${withInterval(metrics.spearman)} | ${withInterval(metrics.kendall)} | ${fmt(metrics.mae)} |`,
    );
  } else {
    lines.push('| Evaluator | Accuracy |', '|---|---|');
    for (const p of benchmark.published) lines.push(`| ${p.evaluator} | ${fmt(p.value)} |`);
    lines.push(`| ${model} (measured, n=${metrics.n}) | ${withInterval(metrics.accuracy)} |`);
  }
  lines.push(
    '',
    'Intervals: 95% bootstrap percentile intervals (1000 resamples, fixed seed).',
    ...(benchmark.tieRule ? [`Ties: ${benchmark.tieRule}.`] : []),
    `Items that could not be graded: ${metrics.errors}. Source: ${benchmark.source}. Time: ${seconds.toFixed(1)} s.`,
    '',
  );
  return lines.join('\n');
}

/** The same report as a self-contained HTML page. */
export function htmlReport(report: EvalReport): string {
  const md = markdownReport(report);
  const rows = md.split('\n').filter((line) => line.startsWith('|') && !line.startsWith('|---'));
  const table = rows
    .map((line, i) => {
      const cells = line
        .split('|')
        .slice(1, -1)
        .map((cell) => escapeHtml(cell.trim()));
      const tag = i === 0 ? 'th' : 'td';
      return `<tr>${cells.map((cell) => `<${tag}>${cell}</${tag}>`).join('')}</tr>`;
    })
    .join('');
  const notes = md
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('|') && !line.startsWith('#'))
    .map((line) => `<p>${escapeHtml(line.replace(/^> /, '').replace(/\*\*/g, ''))}</p>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.benchmark.name)}: ${escapeHtml(report.model)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}</style>
</head><body><h1>${escapeHtml(report.benchmark.name)}: ${escapeHtml(report.model)}</h1><table>${table}</table>${notes}</body></html>
`;
}
