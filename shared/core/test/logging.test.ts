import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../src/index.js';

const CORE = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** The stderr lines of a process that logs two events with createLogger('info', 'phudge-test', pretty). */
function stderrLines(pretty: boolean): string[] {
  const script = `
    import { createLogger } from ${JSON.stringify(CORE)};
    const logger = createLogger('info', 'phudge-test', ${pretty});
    logger.info({ port: 9090, config: { redis: { url: 'redis://:hunter2@redis:6379' } } }, 'worker running');
    logger.warn('draining');
  `;
  const { stderr, status } = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  expect(status).toBe(0);
  return stderr.split('\n').filter(Boolean);
}

describe('logs', () => {
  it('for people: one readable line per event, with the process name, secrets redacted', () => {
    const lines = stderrLines(true);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(phudge-test\): worker running .*"port":9090/);
    expect(lines[1]).toMatch(/WARN \(phudge-test\): draining$/);
    expect(lines.join('\n')).not.toContain('hunter2');
  });

  it('for machines: one JSON object per event, secrets redacted', () => {
    const events = stderrLines(false).map((line) => JSON.parse(line));
    expect(events.map((event) => [event.name, event.msg])).toEqual([
      ['phudge-test', 'worker running'],
      ['phudge-test', 'draining'],
    ]);
    expect(JSON.stringify(events)).not.toContain('hunter2');
  });

  it("shows another process's JSON line under that process's name, and leaves other lines alone", () => {
    const json = JSON.stringify({
      level: 30,
      time: 0,
      pid: 7,
      hostname: 'h',
      name: 'phudge-worker',
      msg: 'judge warm',
      model: 'tiny',
    });
    const line = stripVTControlCharacters(formatLogLine(json, 'worker-2') ?? '');
    expect(line).toMatch(/INFO \(worker-2\): judge warm .*"model":"tiny"/);
    expect(line).not.toContain('\n');
    expect(formatLogLine('Error: boom', 'worker-2')).toBeUndefined();
    expect(formatLogLine('{"not":"a log event"}', 'worker-2')).toBeUndefined();
  });
});
