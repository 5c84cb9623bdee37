import type { GroupStats, RunSummary } from '@phudge/contracts';

/** A run's summary as written to summary.json (by the collector or `phudge grade --summary`). */
export type ReportSummary = RunSummary & {
  runId?: string;
  model?: string;
  seconds?: number;
  itemsPerSecond?: number | null;
  completedAt?: string;
};

/** How a run compares with its baseline. */
export interface Comparison {
  meanShift: number;
  /** 95% interval of the mean shift (Welch's normal approximation). */
  low: number;
  high: number;
  /** Largest gap between the two score distributions' CDFs, over the 1..5 histogram bins. */
  ks: number;
  verdict: string;
}

/** A distribution gap above this is called a shift even when the mean barely moved. */
const KS_SHIFT = 0.1;
const Z95 = 1.959964;

export function compareRuns(run: ReportSummary, baseline: ReportSummary): Comparison {
  const a = run.scores;
  const b = baseline.scores;
  const meanShift = a.mean - b.mean;
  const se = Math.sqrt((a.count > 0 ? a.std ** 2 / a.count : 0) + (b.count > 0 ? b.std ** 2 / b.count : 0));
  const low = meanShift - Z95 * se;
  const high = meanShift + Z95 * se;
  const ks = histogramKs(run.histogram, baseline.histogram);
  const moved = low > 0 ? 'higher' : high < 0 ? 'lower' : undefined;
  const verdict = moved
    ? `Scores are ${moved} than the baseline: mean ${signed(meanShift)} (95% CI ${signed(low)} to ${signed(high)})${ks > KS_SHIFT ? `, and the distribution shifted (KS ${ks.toFixed(2)})` : ''}.`
    : ks > KS_SHIFT
      ? `The mean did not move (${signed(meanShift)}, 95% CI ${signed(low)} to ${signed(high)}) but the distribution shifted (KS ${ks.toFixed(2)}).`
      : `No change against the baseline: mean ${signed(meanShift)} (95% CI ${signed(low)} to ${signed(high)}), KS ${ks.toFixed(2)}.`;
  return { meanShift, low, high, ks, verdict };
}

function histogramKs(a: Record<string, number>, b: Record<string, number>): number {
  const bins = ['1', '2', '3', '4', '5'];
  const total = (h: Record<string, number>) => bins.reduce((sum, bin) => sum + (h[bin] ?? 0), 0) || 1;
  let ca = 0;
  let cb = 0;
  let gap = 0;
  for (const bin of bins) {
    ca += (a[bin] ?? 0) / total(a);
    cb += (b[bin] ?? 0) / total(b);
    gap = Math.max(gap, Math.abs(ca - cb));
  }
  return gap;
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(3)}`;
}

/** Text made safe to put in HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function interval(stats: GroupStats): string {
  if (stats.count < 2) return `${stats.mean.toFixed(3)}`;
  const half = (Z95 * stats.std) / Math.sqrt(stats.count);
  return `${stats.mean.toFixed(3)} <span class="ci">[${(stats.mean - half).toFixed(3)}, ${(stats.mean + half).toFixed(3)}]</span>`;
}

/** Bars of the score histogram (and the baseline's beside them), as inline SVG: no script, no network. */
function histogramSvg(run: ReportSummary, baseline?: ReportSummary): string {
  const bins = ['1', '2', '3', '4', '5'];
  const share = (s: ReportSummary, bin: string) => {
    const total = bins.reduce((sum, b) => sum + (s.histogram[b] ?? 0), 0);
    return total === 0 ? 0 : (s.histogram[bin] ?? 0) / total;
  };
  const series = baseline ? [run, baseline] : [run];
  const top = Math.max(0.01, ...series.flatMap((s) => bins.map((bin) => share(s, bin))));
  const width = 520;
  const height = 220;
  const slot = (width - 40) / bins.length;
  const bar = (slot - 16) / series.length;
  const rects = bins
    .flatMap((bin, i) =>
      series.map((s, k) => {
        const h = (share(s, bin) / top) * (height - 50);
        const x = 30 + i * slot + 8 + k * bar;
        const cls = k === 0 ? 'bar run' : 'bar baseline';
        return `<rect class="${cls}" x="${x.toFixed(1)}" y="${(height - 30 - h).toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}"><title>score ${bin}: ${(share(s, bin) * 100).toFixed(1)}%</title></rect>`;
      }),
    )
    .join('');
  const labels = bins
    .map(
      (bin, i) =>
        `<text x="${(30 + i * slot + slot / 2).toFixed(1)}" y="${height - 10}" text-anchor="middle">${bin}</text>`,
    )
    .join('');
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="score histogram"><line x1="30" y1="${height - 30}" x2="${width - 10}" y2="${height - 30}" stroke="#888"/>${rects}${labels}</svg>`;
}

function groupTable(
  title: string,
  groups: Record<string, GroupStats>,
  baseline?: Record<string, GroupStats>,
): string {
  const names = Object.keys(groups).sort();
  if (names.length === 0) return '';
  const rows = names
    .map((name) => {
      const g = groups[name] as GroupStats;
      const b = baseline?.[name];
      return `<tr><td>${escapeHtml(name)}</td><td>${g.count}</td><td>${interval(g)}</td>${baseline ? `<td>${b ? interval(b) : '-'}</td>` : ''}</tr>`;
    })
    .join('');
  return `<h2>${escapeHtml(title)}</h2><table><tr><th></th><th>scores</th><th>mean [95% CI]</th>${baseline ? '<th>baseline</th>' : ''}</tr>${rows}</table>`;
}

/** One self-contained HTML page: it needs no network to be viewed. */
export function renderRunReport(
  run: ReportSummary,
  baseline?: ReportSummary,
  title = run.runId ?? 'run',
): string {
  const comparison = baseline ? compareRuns(run, baseline) : undefined;
  const rate = (part: number) => (run.items === 0 ? '0.0%' : `${((100 * part) / run.items).toFixed(1)}%`);
  const segments = Object.entries(run.segments)
    .map(([key, groups]) => groupTable(`Mean score by ${key}`, groups, baseline?.segments[key]))
    .join('');
  const errors = Object.entries(run.errorCodes)
    .map(([code, count]) => `${escapeHtml(code)}: ${count}`)
    .join(', ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PHUDGE run report: ${escapeHtml(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:980px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.verdict{padding:10px 14px;border-radius:6px;background:#eef3ff;margin:12px 0}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #dde;border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:18px}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
.ci{color:#667}.bar.run{fill:#3b6fd8}.bar.baseline{fill:#b7c3d9}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
svg text{font-size:12px;fill:#445}
</style></head><body>
<h1>PHUDGE run report: ${escapeHtml(title)}</h1>
<div>${run.model ? `model ${escapeHtml(run.model)} · ` : ''}${run.completedAt ? `finished ${escapeHtml(run.completedAt)}` : ''}</div>
${comparison ? `<div class="verdict" id="verdict">${escapeHtml(comparison.verdict)}</div>` : '<div class="verdict" id="verdict">No baseline to compare with.</div>'}
<div class="cards">
<div class="card">items<b>${run.items}</b></div>
<div class="card">mean score<b>${run.meanScore === null ? 'n/a' : interval(run.scores)}</b></div>
<div class="card">errors<b>${rate(run.errors)}</b></div>
<div class="card">truncated<b>${rate(run.truncated)}</b></div>
<div class="card">throughput<b>${run.itemsPerSecond ? `${run.itemsPerSecond.toFixed(1)} items/s` : 'n/a'}</b></div>
${run.engineSeconds !== undefined ? `<div class="card" id="gpu-hours">engine time<b>${(run.engineSeconds / 3600).toFixed(3)} GPU-h</b></div>` : ''}
${run.cost !== undefined ? `<div class="card" id="cost">cost<b>${run.cost.toFixed(2)}</b></div>` : ''}
</div>
<h2>Score distribution</h2>
<div class="legend"><span style="background:#3b6fd8"></span>this run${baseline ? '<span style="background:#b7c3d9"></span>baseline' : ''}</div>
${histogramSvg(run, baseline)}
${groupTable('Mean score by rubric', run.rubrics, baseline?.rubrics)}
${segments}
<h2>Errors</h2><p>${run.errors} of ${run.items} items (${rate(run.errors)})${errors ? `: ${errors}` : ''}; ${run.truncated} truncated, ${run.sanitized} sanitized.</p>
</body></html>
`;
}
