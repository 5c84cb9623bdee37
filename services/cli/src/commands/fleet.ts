import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { loadConfig, openStore, type PhudgeConfig, UnrecoverableError } from '@phudge/core';
import { PhudgeClient, type RunStatus } from '@phudge/sdk';
import { expandDatePlaceholders } from '../date-template.js';
import { openOutput } from '../output.js';
import { UsageError } from '../usage.js';

export const SUBMIT_USAGE = `Usage: phudge submit <s3://...|file.jsonl> [--wait] [--run-id ID] [--rubric NAME|TEXT] [--mode absolute|relative] [--segments k1,k2] [--name NAME] [--chunk-size N]

Submits a run to the fleet (PHUDGE_API_URL, PHUDGE_API_TOKEN). An s3:// or file:// URI is read
by the producer; a local file is first uploaded to the fleet's store (PHUDGE_STORE_URL).
{today} and {yesterday} in the input and the run id become UTC dates (YYYY-MM-DD), for a
scheduled run that a retry does not submit twice:
  phudge submit 's3://logs/{yesterday}/chat.jsonl' --name nightly --run-id 'nightly-{today}'
--name names a recurring run: its report compares with the previous run of that name.
--wait follows the run to its end and prints its summary.`;

export const STATUS_USAGE = 'Usage: phudge status <runId>';
export const RESULTS_USAGE = 'Usage: phudge results <runId> [-o results.jsonl]';

function client(config: PhudgeConfig): PhudgeClient {
  if (!config.api.token)
    throw new UnrecoverableError("api.token: set PHUDGE_API_TOKEN to one of the producer's tokens");
  return new PhudgeClient({ url: config.api.url, token: config.api.token });
}

export async function submitCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      wait: { type: 'boolean', default: false },
      'run-id': { type: 'string' },
      rubric: { type: 'string' },
      mode: { type: 'string' },
      segments: { type: 'string' },
      name: { type: 'string' },
      'chunk-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${SUBMIT_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('submit takes exactly one input', SUBMIT_USAGE);
  if (values.mode !== undefined && values.mode !== 'absolute' && values.mode !== 'relative') {
    throw new UsageError(`--mode must be absolute or relative, not "${values.mode}"`, SUBMIT_USAGE);
  }
  const config = loadConfig();
  const api = client(config);
  const runId = values['run-id'] ? expandDatePlaceholders(values['run-id']) : randomUUID();
  const uri = await inputUri(expandDatePlaceholders(positionals[0] as string), runId, config);
  const { created } = await api.submitRun(
    { uri },
    {
      runId,
      ...(values.rubric ? { rubric: values.rubric } : {}),
      ...(values.mode ? { mode: values.mode as 'absolute' | 'relative' } : {}),
      ...(values.segments
        ? {
            segments: values.segments
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          }
        : {}),
      ...(values['chunk-size'] ? { chunkSize: Number(values['chunk-size']) } : {}),
      ...(values.name ? { name: values.name } : {}),
    },
  );
  process.stderr.write(`${created ? 'submitted' : 'already submitted'} run ${runId}\n`);
  process.stdout.write(`${runId}\n`);
  if (!values.wait) return 0;
  const status = await api.waitForRun(runId, { onProgress: progressLine });
  process.stderr.write('\n');
  process.stdout.write(`${JSON.stringify(await api.summary(runId), null, 2)}\n`);
  return status.state === 'completed' ? 0 : 1;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError('status takes a run id', STATUS_USAGE);
  const status = await client(loadConfig()).getRun(positionals[0] as string);
  process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  return 0;
}

export async function resultsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { output: { type: 'string', short: 'o' } },
  });
  if (positionals.length !== 1) throw new UsageError('results takes a run id', RESULTS_USAGE);
  const output: Writable = values.output ? await openOutput(values.output) : process.stdout;
  let count = 0;
  for await (const record of client(loadConfig()).results(positionals[0] as string)) {
    if (!output.write(`${JSON.stringify(record)}\n`)) await once(output, 'drain');
    count += 1;
  }
  if (output !== process.stdout) {
    output.end();
    await once(output, 'finish');
  }
  process.stderr.write(`${count} results\n`);
  return 0;
}

/** A URI the producer can read: given as is, or a local file uploaded to the fleet's store first. */
async function inputUri(input: string, runId: string, config: PhudgeConfig): Promise<string> {
  if (/^(s3|file):\/\//.test(input)) return input;
  if (!existsSync(input)) throw new UnrecoverableError(`cannot read input ${input}: no such file`);
  const store = openStore(config);
  try {
    const key = `inputs/${runId}.jsonl`;
    await store.put(key, createReadStream(input));
    return store.uri(key);
  } finally {
    await store.close();
  }
}

function progressLine(status: RunStatus): void {
  const total = status.total ?? '?';
  process.stderr.write(`\r${status.state}: ${status.done}/${total} items, ${status.errors} errors\u001b[K`);
}
