import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compareRuns,
  type ReportSummary,
  type ResultRecord,
  renderRunReport,
  SummaryBuilder,
} from '@phudge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.js';
import { REPO_ROOT } from '../support/paths.js';
import { chromium as chromiumPrerequisite, findOrSkip } from '../support/prerequisites.js';

const chromiumPath = findOrSkip(chromiumPrerequisite());

/** Deterministic results: `shift` moves every score, as a regression between two nights would. */
function summaryOf(shift: number, count = 400): ReportSummary {
  const builder = new SummaryBuilder(['channel']);
  for (let i = 0; i < count; i++) {
    const record: ResultRecord =
      i % 50 === 49
        ? { line: i + 1, error: { code: 'invalid_input', message: 'missing field: response' } }
        : {
            id: `r${i}`,
            score: Math.min(5, Math.max(1, 1 + ((i * 37) % 400) / 100 + shift)),
            truncated: i % 40 === 0,
            tokens: 300,
            model: 'tiny-judge@0.1.0',
            rubric: i % 2 ? 'helpfulness' : 'honesty',
            metadata: { channel: ['web', 'app', 'email'][i % 3] },
          };
    builder.add(record);
  }
  return { ...builder.build(), runId: `night-${shift}`, model: 'tiny-judge@0.1.0', itemsPerSecond: 123.4 };
}

describe('run report', () => {
  it('says no change against an identical baseline, and names a drop in the mean', () => {
    expect(compareRuns(summaryOf(0), summaryOf(0)).verdict).toMatch(/^No change/);
    const drop = compareRuns(summaryOf(-0.5), summaryOf(0));
    expect(drop.meanShift).toBeLessThan(0);
    expect(drop.high).toBeLessThan(0);
    expect(drop.verdict).toMatch(/^Scores are lower than the baseline/);
  });

  it('is self-contained: no script, stylesheet, image or font from anywhere', () => {
    const html = renderRunReport(summaryOf(0), summaryOf(0.2));
    expect(html).not.toMatch(/<script|<link|src=|url\(/i);
  });

  it('is what phudge report writes from a phudge grade summary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'report-cli-'));
    try {
      const summary = join(dir, 'summary.json');
      await writeFile(summary, JSON.stringify(summaryOf(0)));
      const output = join(dir, 'cli-report.html');
      execFileSync(
        process.execPath,
        [
          join(REPO_ROOT, 'services/cli/bin/phudge.js'),
          'report',
          summary,
          '--baseline',
          summary,
          '-o',
          output,
        ],
        {
          stdio: 'pipe',
        },
      );
      expect(await readFile(output, 'utf8')).toContain('No change against the baseline');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe.skipIf(!chromiumPath)('in headless Chromium', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'report-'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('draws the charts with no console error, and screenshots them', async () => {
      const page = join(dir, 'report.html');
      await writeFile(page, renderRunReport(summaryOf(-0.3), summaryOf(0), 'nightly-support-bot'));
      const browser = await launchChromium(chromiumPath);
      try {
        const tab = await browser.newPage({ viewport: { width: 1000, height: 900 } });
        const problems: string[] = [];
        tab.on('console', (message) => {
          if (message.type() === 'error') problems.push(message.text());
        });
        tab.on('pageerror', (error) => problems.push(error.message));
        tab.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
        await tab.goto(`file://${page}`);
        const bars = await tab.locator('svg.chart rect.bar').all();
        expect(bars).toHaveLength(10); // five scores, this run and the baseline
        const heights = await Promise.all(bars.map(async (bar) => (await bar.boundingBox())?.height ?? 0));
        expect(heights.filter((h) => h > 1).length).toBeGreaterThanOrEqual(6);
        expect(await tab.locator('#verdict').textContent()).toMatch(/lower than the baseline/);
        const shot = join(dir, 'report.png');
        await tab.screenshot({ path: shot, fullPage: true });
        expect((await stat(shot)).size).toBeGreaterThan(20_000);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  });
});
