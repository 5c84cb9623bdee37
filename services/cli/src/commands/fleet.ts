import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { basename } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { loadConfig, openStore, type PhudgeConfig, resolveInputs, UnrecoverableError } from '@phudge/core';
import { PhudgeClient, type RunStatus } from '@phudge/sdk';
import { expandDatePlaceholders } from '../date-template.js';
import { ITEM_FLAGS, ITEM_FLAGS_USAGE, itemOptionsFromFlags } from '../item-flags.js';
import { openOutput } from '../output.js';
import { UsageError } from '../usage.js';

export const SUBMIT_USAGE = `Usage: phudge submit <input>... [--wait] [--run-id ID] [--format jsonl|parquet] [--segments k1,k2] [--name NAME] [--chunk-size N] [--priority batch|interactive] [item options]

Submits a run to the fleet (PHUDGE_API_URL, PHUDGE_API_TOKEN). An s3:// or file:// URI (one
object, a prefix ending in /, or a glob) is read by the producer; local files (or folders, or
globs) are first uploaded to the fleet's store (PHUDGE_STORE_URL) under inputs/<runId>/.
--format parquet also writes the results as Parquet when the run completes.
--priority interactive serves the run's chunks before every batch run's (default batch; batch
runs take turns).

Item options, as for phudge grade:
${ITEM_FLAGS_USAGE}

{today} and {yesterday} in the input and the run id become UTC dates (YYYY-MM-DD), for a
scheduled run that a retry does not submit twice:
  phudge submit 's3://logs/{yesterday}/chat.jsonl' --name nightly --run-id 'nightly-{today}'
--name names a recurring run: its report compares with the previous run of that name.
--wait follows the run to its end and prints its summary.`;

export const STATUS_USAGE = 'Usage: phudge status <runId>';
export const RESULTS_USAGE = 'Usage: phudge results <runId> [-o results.jsonl]';
export const CANCEL_USAGE = 'Usage: phudge cancel <runId>';

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
      format: { type: 'string' },
      ...ITEM_FLAGS,
      segments: { type: 'string' },
      name: { type: 'string' },
      'chunk-size': { type: 'string' },
      priority: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${SUBMIT_USAGE}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('submit takes at least one input', SUBMIT_USAGE);
  if (values.format !== undefined && values.format !== 'jsonl' && values.format !== 'parquet')
    throw new UsageError(`--format must be jsonl or parquet, not "${values.format}"`, SUBMIT_USAGE);
  const { priority } = values;
  if (priority !== undefined && priority !== 'batch' && priority !== 'interactive')
    throw new UsageError(`--priority must be batch or interactive, not "${priority}"`, SUBMIT_USAGE);
  const items = itemOptionsFromFlags(values, SUBMIT_USAGE);
  const config = loadConfig();
  const api = client(config);
  const runId = values['run-id'] ? expandDatePlaceholders(values['run-id']) : randomUUID();
  const uris = await inputUris(
    positionals.map((input) => expandDatePlaceholders(input)),
    runId,
    config,
  );
  const { created } = await api.submitRun(uris.length === 1 ? { uri: uris[0] as string } : { uris }, {
    runId,
    ...items,
    ...(values.format === 'parquet' ? { output: { format: 'parquet' as const } } : {}),
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
    ...(priority ? { priority } : {}),
  });
  process.stderr.write(`${created ? 'submitted' : 'already submitted'} run ${runId}\n`);
  process.stdout.write(`${runId}\n`);
  if (!values.wait) return 0;
  const status = await api.waitForRun(runId, { onProgress: progressLine });
  process.stderr.write('\n');
  process.stdout.write(`${JSON.stringify(await api.summary(runId), null, 2)}\n`);
  return status.state === 'completed' ? 0 : 1;
}

export function statusCommand(argv: string[]): Promise<number> {
  return printRun(argv, 'status', STATUS_USAGE, (api, runId) => api.getRun(runId));
}

export function cancelCommand(argv: string[]): Promise<number> {
  return printRun(argv, 'cancel', CANCEL_USAGE, (api, runId) => api.cancelRun(runId));
}

/** A command that takes one run id and prints the run's status as `call` answers it. */
async function printRun(
  argv: string[],
  name: string,
  usage: string,
  call: (api: PhudgeClient, runId: string) => Promise<unknown>,
): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError(`${name} takes a run id`, usage);
  const status = await call(client(loadConfig()), positionals[0] as string);
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

/**
 * URIs the producer can read: an s3:// or file:// URI as it is (the producer expands prefixes and
 * globs), local files (folders and globs expanded here) uploaded to the fleet's store first, under
 * `inputs/<runId>/` with their names, so that their extensions still say their formats.
 */
async function inputUris(inputs: string[], runId: string, config: PhudgeConfig): Promise<string[]> {
  const uris: string[] = [];
  const store = openStore(config);
  try {
    for (const input of inputs) {
      if (/^(s3|file):\/\//.test(input)) {
        uris.push(input);
        continue;
      }
      const local = await resolveInputs([input], { s3: config.s3 });
      try {
        for (const file of local.files) {
          const key = `inputs/${runId}/${basename(file.source)}`;
          if (uris.includes(store.uri(key)))
            throw new UnrecoverableError(`two inputs are named ${basename(file.source)}: rename one`);
          await store.put(key, await file.stream());
          uris.push(store.uri(key));
        }
      } finally {
        await local.close();
      }
    }
  } finally {
    await store.close();
  }
  return uris;
}

function progressLine(status: RunStatus): void {
  const total = status.total ?? '?';
  process.stderr.write(`\r${status.state}: ${status.done}/${total} items, ${status.errors} errors\u001b[K`);
}
