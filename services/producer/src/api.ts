import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeZodError,
  type ObjectStore,
  openInput,
  type PhudgeConfig,
  type RunOptions,
  runIdSchema,
  runKeys,
  runOptionsSchema,
} from '@phudge/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { bearerAuth } from './auth.js';
import type { RunInput } from './ingest.js';
import type { RunRecord, RunStore } from './run-store.js';

/** Most items POST /v1/grade takes: it answers with results, so it is for small synchronous calls. */
export const MAX_GRADE_ITEMS = 256;

const submitRunSchema = runOptionsSchema.extend({
  input: z.union([
    z.strictObject({ uri: z.string().min(1) }),
    z.strictObject({ items: z.array(z.unknown()).min(1) }),
  ]),
  runId: runIdSchema.optional(),
  chunkSize: z.number().int().min(1).max(10_000).optional(),
});
export type SubmitRunBody = z.infer<typeof submitRunSchema>;

const gradeSchema = runOptionsSchema.extend({
  items: z.array(z.unknown()).min(1).max(MAX_GRADE_ITEMS),
  timeoutMs: z.number().int().min(1).max(600_000).optional(),
});

/** What the API needs from the producer. */
export interface ApiDeps {
  config: PhudgeConfig;
  tokens: string[];
  store: ObjectStore;
  runs: RunStore;
  /** Starts (or resumes) ingestion of a run in the background. */
  submit(
    runId: string | undefined,
    input: RunInput,
    description: { uri: string } | { items: unknown[] },
    options: RunOptions,
    chunkSize?: number,
  ): Promise<{ runId: string; created: boolean } | { conflict: string }>;
  queueCounts(): Promise<Record<string, number>>;
}

/** The public status of a run. */
export function runStatus(run: RunRecord, store: ObjectStore) {
  const errors = run.counters.errors ?? 0;
  return {
    runId: run.runId,
    state: run.state,
    total: run.items ?? null,
    done: run.done,
    errors,
    chunks: run.chunks ?? null,
    chunksDone: run.chunksDone,
    resultsPrefix: store.uri(runKeys.resultsPrefix(run.runId)),
    summaryUri: isFinished(run) ? store.uri(runKeys.summary(run.runId)) : null,
    reportUri: isFinished(run) ? store.uri(runKeys.report(run.runId)) : null,
    createdAt: new Date(run.createdAt).toISOString(),
    completedAt: run.completedAt ? new Date(run.completedAt).toISOString() : null,
    ...(run.failure ? { failure: run.failure } : {}),
  };
}

export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  app.register(
    async (v1) => {
      v1.addHook('onRequest', bearerAuth(deps.tokens));

      v1.post('/runs', async (request, reply) => {
        const body = parseBody(submitRunSchema, request.body, reply);
        if (!body) return reply;
        const { input, runId, chunkSize, ...options } = body;
        let source: RunInput;
        if ('uri' in input) {
          try {
            source = { lines: await openInput(input.uri, deps.config.s3) };
          } catch (error) {
            return reply.code(400).send({ error: 'bad_input', message: (error as Error).message });
          }
        } else {
          source = { items: input.items };
        }
        const result = await deps.submit(runId, source, input, options, chunkSize);
        if ('conflict' in result)
          return reply.code(409).send({ error: 'conflict', message: result.conflict });
        return reply.code(202).send({ runId: result.runId, created: result.created });
      });

      v1.get<{ Params: { id: string } }>('/runs/:id', async (request, reply) => {
        const run = await findRun(deps, request.params.id, reply);
        if (!run) return reply;
        return runStatus(run, deps.store);
      });

      v1.get<{ Params: { id: string } }>('/runs/:id/summary', async (request, reply) => {
        const run = await findRun(deps, request.params.id, reply);
        if (!run) return reply;
        if (!isFinished(run))
          return reply.code(409).send({ error: 'not_finished', message: `run is ${run.state}` });
        return reply.type('application/json').send(await deps.store.get(runKeys.summary(run.runId)));
      });

      v1.get<{ Params: { id: string } }>('/runs/:id/results', async (request, reply) => {
        const run = await findRun(deps, request.params.id, reply);
        if (!run) return reply;
        if (!isFinished(run))
          return reply.code(409).send({ error: 'not_finished', message: `run is ${run.state}` });
        reply.type('application/x-ndjson');
        reply.raw.writeHead(200, reply.getHeaders() as Record<string, string>);
        await streamResults(
          deps.store,
          run,
          (chunk) => reply.raw.write(chunk),
          () => once(reply.raw, 'drain'),
        );
        reply.raw.end();
        return reply;
      });

      v1.post('/grade', async (request, reply) => {
        const body = parseBody(gradeSchema, request.body, reply);
        if (!body) return reply;
        const { items, timeoutMs, ...options } = body;
        const submitted = await deps.submit(undefined, { items }, { items }, options);
        if ('conflict' in submitted)
          return reply.code(409).send({ error: 'conflict', message: submitted.conflict });
        const { runId } = submitted;
        const deadline = Date.now() + (timeoutMs ?? deps.config.producer.gradeTimeoutMs);
        let run = await deps.runs.get(runId);
        while (run && !isFinished(run) && Date.now() < deadline) {
          await sleep(50);
          run = await deps.runs.get(runId);
        }
        if (!run || !isFinished(run)) {
          return reply
            .code(504)
            .send({ error: 'timeout', message: 'the items are not graded yet; poll the run', runId });
        }
        const lines: string[] = [];
        await streamResults(deps.store, run, (chunk) => {
          lines.push(chunk.toString('utf8'));
          return true;
        });
        const results = lines
          .join('')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line));
        return { runId, state: run.state, results };
      });

      v1.get('/queue', async () => {
        const counts = await deps.queueCounts();
        return { ...counts, pending: sumPending(counts) };
      });
    },
    { prefix: '/v1' },
  );
}

/** Chunk jobs not finished: what autoscaling follows. A plain list length would miss prioritized and delayed jobs. */
export function sumPending(counts: Record<string, number>): number {
  return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0);
}

function isFinished(run: RunRecord): boolean {
  return run.state === 'completed' || run.state === 'failed';
}

async function findRun(deps: ApiDeps, id: string, reply: FastifyReply): Promise<RunRecord | undefined> {
  const run = runIdSchema.safeParse(id).success ? await deps.runs.get(id) : undefined;
  if (!run) await reply.code(404).send({ error: 'not_found', message: `no run ${id}` });
  return run;
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  void reply.code(400).send({ error: 'bad_request', message: describeZodError(parsed.error) });
  return undefined;
}

/** The results parts of a finished run, in chunk order (so in input order). */
async function streamResults(
  store: ObjectStore,
  run: RunRecord,
  write: (chunk: Buffer) => boolean,
  drain: () => Promise<unknown> = async () => {},
): Promise<void> {
  for (let chunk = 0; chunk < (run.chunks ?? 0); chunk++) {
    const key = runKeys.results(run.runId, chunk);
    if (!(await store.exists(key))) continue; // a failed chunk whose input was lost: counted in the summary
    for await (const piece of await store.getStream(key)) {
      if (!write(piece as Buffer)) await drain();
    }
  }
}
