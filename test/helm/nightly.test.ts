import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, runKeys } from '@phudge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeItems, TestFleet } from '../support/fleet.js';
import { helm, renderChart } from '../support/helm.js';
import { REPO_ROOT } from '../support/paths.js';

const BIN = join(REPO_ROOT, 'services/cli/bin/phudge.js');
const NAME = 'support-bot';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}

interface SubmitContainer {
  image: string;
  args: string[];
  env: EnvVar[];
}

function utcDate(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
}

/**
 * The test names its input files by today's UTC date and expects the run id of the same day, so
 * that a UTC midnight between the two must not fall inside it: close to midnight, wait it out.
 */
async function notNearUtcMidnight(marginMs = 3 * 60 * 1000): Promise<void> {
  const msOfDay = Date.now() % (24 * 60 * 60 * 1000);
  const untilMidnight = 24 * 60 * 60 * 1000 - msOfDay;
  if (untilMidnight < marginMs) await new Promise((resolve) => setTimeout(resolve, untilMidnight + 1000));
}

/** The chart's CronJob with these values. */
function renderNightly(...set: string[]) {
  const cronJob = renderChart('nightly.enabled=true', ...set).find((m) => m.kind === 'CronJob');
  if (!cronJob) throw new Error('the chart rendered no CronJob');
  return cronJob;
}

/**
 * Runs the CronJob's container as its pod would: its image's entry point (the phudge CLI) with
 * its args, and its env with Secret references resolved from `secrets`; only the producer's
 * in-cluster URL is replaced by the test fleet's.
 */
async function runContainer(
  container: SubmitContainer,
  secrets: Record<string, Record<string, string>>,
  apiUrl: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const variable of container.env) {
    const ref = variable.valueFrom?.secretKeyRef;
    const value = ref ? secrets[ref.name]?.[ref.key] : variable.value;
    if (value === undefined) throw new Error(`no value for ${variable.name}`);
    env[variable.name] = value;
  }
  env.PHUDGE_API_URL = apiUrl;
  const child = spawn(process.execPath, [BIN, ...container.args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data) => {
    stdout += data;
  });
  child.stderr.on('data', (data) => {
    stderr += data;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

describe('nightly CronJob', () => {
  it('renders none unless enabled', () => {
    expect(helm(['template', 'fleet', 'helm/phudge'])).not.toContain('kind: CronJob');
  });

  it('renders the schedule, the template input, the name and the options', () => {
    const cronJob = renderNightly(
      'nightly.schedule=30 1 * * *',
      'nightly.input=s3://logs/{yesterday}/*.jsonl',
      `nightly.name=${NAME}`,
      'nightly.rubric=helpfulness',
      'nightly.segments={channel,language}',
    );
    expect(cronJob.spec).toMatchObject({ schedule: '30 1 * * *', concurrencyPolicy: 'Forbid' });
    const container = cronJob.spec.jobTemplate.spec.template.spec.containers[0];
    expect(container.image).toBe('ghcr.io/example/phudge:0.1.0');
    expect(container.args).toEqual([
      'submit',
      's3://logs/{yesterday}/*.jsonl',
      '--name',
      NAME,
      '--run-id',
      `${NAME}-{today}`,
      '--rubric',
      'helpfulness',
      '--segments',
      'channel,language',
    ]);
    expect(container.env).toContainEqual({
      name: 'PHUDGE_API_URL',
      value: 'http://fleet-phudge-producer.judges.svc:8080',
    });
    expect(container.env).toContainEqual({
      name: 'PHUDGE_API_TOKEN',
      valueFrom: { secretKeyRef: { name: 'phudge-api', key: 'nightly-token' } },
    });
  });

  it('passes a preset and several rubrics, and refuses rubric beside rubrics', () => {
    const cronJob = renderNightly('nightly.preset=lmsys', 'nightly.rubrics={helpfulness,harmlessness}');
    const container = cronJob.spec.jobTemplate.spec.template.spec.containers[0];
    expect(container.args).toEqual(
      expect.arrayContaining(['--rubrics', 'helpfulness,harmlessness', '--preset', 'lmsys']),
    );
    expect(container.args).not.toContain('--rubric');
    expect(() => renderNightly('nightly.rubric=helpfulness', 'nightly.rubrics={harmlessness}')).toThrow(
      /rubric or rubrics, not both/,
    );
  });

  it('lets its pods through the NetworkPolicy to the producer, whatever the API clients are', () => {
    const policy = renderChart(
      'nightly.enabled=true',
      'networkPolicy.enabled=true',
      'networkPolicy.apiClients=null',
    ).find((m) => m.kind === 'NetworkPolicy' && m.metadata.name.endsWith('-producer'));
    const pod = renderNightly().spec.jobTemplate.spec.template.metadata.labels;
    expect(policy?.spec.ingress[0].from).toContainEqual({ podSelector: { matchLabels: pod } });
  });

  it('refuses a name that cannot make a run id', () => {
    expect(() => renderNightly('nightly.name=nightly.v2')).toThrow(/name/);
  });

  describe('against a real producer', () => {
    const token = randomBytes(12).toString('hex');
    let fleet: TestFleet;
    let inputs: string;
    beforeAll(async () => {
      await notNearUtcMidnight();
      inputs = await realpath(await mkdtemp(join(tmpdir(), 'nightly-inputs-')));
      const jsonl = (count: number) =>
        `${makeItems(count)
          .map((item) => JSON.stringify(item))
          .join('\n')}\n`;
      // Yesterday's and today's logs differ in length, so the run's count tells which was read.
      await writeFile(join(inputs, `${utcDate(-1)}.jsonl`), jsonl(7));
      await writeFile(join(inputs, `${utcDate(0)}.jsonl`), jsonl(3));
      fleet = await TestFleet.start({
        PHUDGE_API_TOKENS: `nightly:submit:${token}`,
        PHUDGE_INPUT_ROOTS: inputs,
      });
      await fleet.startWorker();
    }, 5 * 60_000); // the wait out of a UTC midnight, and the fleet's start
    afterAll(async () => {
      await fleet?.close();
      await rm(inputs, { recursive: true, force: true });
    });

    it("submits yesterday's input with a submit-only token, once a day, compared with the previous night", async () => {
      // The previous night's run of the same name: the baseline this night's report compares with.
      const previous = await fleet.client.submitRun({ items: makeItems(5) }, { name: NAME });
      await fleet.client.waitForRun(previous.runId);

      const cronJob = renderNightly(
        `nightly.input=file://${inputs}/{yesterday}.jsonl`,
        `nightly.name=${NAME}`,
      );
      const container = cronJob.spec.jobTemplate.spec.template.spec.containers[0] as SubmitContainer;
      const secrets = { 'phudge-api': { 'nightly-token': token } };
      const first = await runContainer(container, secrets, fleet.apiUrl);
      expect(first.stderr).toContain('submitted run');
      expect(first.code).toBe(0);
      const runId = first.stdout.trim();
      expect(runId).toBe(`${NAME}-${utcDate(0)}`);

      // The Job's retry of the same night finds the run, and submits nothing new.
      const retry = await runContainer(container, secrets, fleet.apiUrl);
      expect(retry.code).toBe(0);
      expect(retry.stderr).toContain(`already submitted run ${runId}`);

      const status = await fleet.client.waitForRun(runId);
      expect(status).toMatchObject({ state: 'completed', total: 7 });
      const store = openStore(fleet.config);
      try {
        const report = (await store.get(runKeys.report(runId))).toString('utf8');
        expect(report).toContain(`${NAME} (${runId})`);
        expect(report).not.toContain('No baseline to compare with.');
        expect(report).toMatch(/against the baseline|than the baseline/);
      } finally {
        await store.close();
      }
    });
  });
});
