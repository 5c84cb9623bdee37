import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, runKeys } from '@phudge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readParquet } from '../support/duckdb.js';
import { TestFleet } from '../support/fleet.js';
import { type LmsysNight, writeLmsysNight } from '../support/lmsys.js';
import { REPO_ROOT } from '../support/paths.js';

const BIN = join(REPO_ROOT, 'services/cli/bin/phudge.js');

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

const RUBRICS = ['helpfulness', 'honesty'];

describe('a night of LMSYS logs: a prefix of .jsonl.gz and .parquet files, two rubrics, Parquet out', () => {
  let fleet: TestFleet;
  let dir: string;
  let night: LmsysNight;
  let prefix: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightly-'));
    night = await writeLmsysNight(join(dir, 'night'));
    fleet = await TestFleet.start();
    const store = openStore(fleet.config);
    for (const file of night.files)
      await store.put(`nightly/2026-12-01/${file}`, await readFile(join(dir, 'night', file)));
    await store.put('nightly/2026-12-01/_SUCCESS', 'done\n');
    await store.close();
    prefix = `s3://${fleet.s3.bucket}/fleet/nightly/2026-12-01/`;
    await fleet.startWorker();
  });
  afterAll(async () => {
    await fleet?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The API as any HTTP client calls it: a run's options are plain JSON. */
  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(`${fleet.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${fleet.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** Submits, waits, and reads the run's Parquet files back with DuckDB (not the writer's library). */
  async function gradeNight(runId: string, input: unknown, options: Record<string, unknown>) {
    const submitted = await api('POST', '/v1/runs', {
      input,
      runId,
      rubrics: RUBRICS,
      output: { format: 'parquet' },
      chunkSize: 8,
      ...options,
    });
    expect(submitted).toMatchObject({ status: 202, body: { runId, created: true } });
    await fleet.client.waitForRun(runId, { intervalMs: 200, timeoutMs: 120_000 });
    const { body: status } = await api('GET', `/v1/runs/${runId}`);
    const uris = status.parquetUris as string[];
    expect(uris).toEqual([`s3://${fleet.s3.bucket}/fleet/${runKeys.parquet(runId, 0)}`]);
    const store = openStore(fleet.config);
    const path = join(dir, `${runId}.parquet`);
    await writeFile(path, await store.get(runKeys.parquet(runId, 0)));
    await store.close();
    return { status, rows: await readParquet(path) };
  }

  function expectEveryItemOncePerRubric(rows: Record<string, unknown>[]) {
    const expected = night.expected.flatMap((item) =>
      RUBRICS.map((rubric) => [
        `fleet/nightly/2026-12-01/${item.file}`,
        item.line,
        rubric,
        item.error ?? null,
      ]),
    );
    expect(rows.map((row) => [row.source, Number(row.line), row.rubric, row.error_code])).toEqual(expected);
    const bad = night.expected.filter((item) => item.error);
    expect(bad.length).toBeGreaterThanOrEqual(4);
    const graded = rows.find((row) => row.id === 'conv-5' && row.rubric === 'honesty');
    expect(graded).toMatchObject({ model: 'tiny-judge@0.1.0', template: 'phudge', truncated: false });
    expect(graded?.model_sha256).toMatch(/^[0-9a-f]{12}$/);
    expect(JSON.parse(graded?.metadata as string)).toMatchObject({ language: 'English' });
  }

  it('with preset lmsys: every item once per rubric in the Parquet file, bad rows as error records naming source and line', async () => {
    const { status, rows } = await gradeNight('night-preset', { uri: prefix }, { preset: 'lmsys' });
    const items = night.expected.length * RUBRICS.length;
    expect(status).toMatchObject({ state: 'completed', total: items, done: items });
    expectEveryItemOncePerRubric(rows);
    const unmapped = rows.find(
      (row) => row.source === 'fleet/nightly/2026-12-01/2026-12-01-d.parquet' && row.line === '3',
    );
    expect(unmapped).toMatchObject({
      id: 'conv-20',
      error_message: 'missing field: messages (map: "conversation" found nothing)',
    });
    const summary = await fleet.client.summary('night-preset');
    expect(Object.keys(summary.rubrics).sort()).toEqual(RUBRICS);
  });

  it('with a custom map instead of the preset, over a list of a glob and one object: the same rows', async () => {
    const { rows } = await gradeNight(
      'night-map',
      { uris: [`${prefix}*.jsonl.gz`, `${prefix}2026-12-01-d.parquet`] },
      { map: { id: 'conversation_id', messages: 'conversation', 'metadata.language': 'language' } },
    );
    expectEveryItemOncePerRubric(rows);
  });

  it('phudge submit uploads local logs and submits them with the same options, and the run writes Parquet', async () => {
    const env = { ...process.env, ...fleet.env, PHUDGE_API_URL: fleet.apiUrl, PHUDGE_API_TOKEN: fleet.token };
    const files = night.files.map((file) => join(dir, 'night', file));
    // Not spawnSync: the producer runs in this process and must answer the CLI meanwhile.
    const submit = await run(
      process.execPath,
      [
        BIN,
        'submit',
        ...files,
        '--run-id',
        'night-cli',
        '--preset',
        'lmsys',
        '--rubrics',
        RUBRICS.join(','),
        '--format',
        'parquet',
        '--chunk-size',
        '8',
        '--wait',
      ],
      env,
    );
    expect(submit.stderr).toContain('submitted run night-cli');
    expect(submit.status).toBe(0);
    const { body: status } = await api('GET', '/v1/runs/night-cli');
    expect(status).toMatchObject({ state: 'completed', total: night.expected.length * RUBRICS.length });
    const store = openStore(fleet.config);
    const path = join(dir, 'night-cli.parquet');
    await writeFile(path, await store.get(runKeys.parquet('night-cli', 0)));
    await store.close();
    const rows = await readParquet(path);
    expect(rows.map((row) => [row.source, Number(row.line), row.rubric, row.error_code])).toEqual(
      night.expected.flatMap((item) =>
        RUBRICS.map((rubric) => [
          `fleet/inputs/night-cli/${item.file}`,
          item.line,
          rubric,
          item.error ?? null,
        ]),
      ),
    );
  });

  it('refuses at submission a map expression that does not parse, naming it', async () => {
    const refused = await api('POST', '/v1/runs', {
      input: { uri: prefix },
      map: { messages: 'conversation[' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('map.messages: "conversation[" is not a JMESPath expression');
  });

  it('refuses a prefix that matches nothing, and one outside what the producer may read', async () => {
    const empty = await api('POST', '/v1/runs', { input: { uri: `${prefix}nothing-*.parquet` } });
    expect(empty).toMatchObject({ status: 400, body: { error: 'bad_input' } });
    const outside = await api('POST', '/v1/runs', { input: { uri: `s3://${fleet.s3.bucket}/` } });
    expect(outside).toMatchObject({ status: 403, body: { error: 'input_forbidden' } });
  });
});
