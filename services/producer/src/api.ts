import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ApiScope,
  ConflictingRubricsError,
  describeZodError,
  InputForbiddenError,
  InputNotFoundError,
  type InputPolicy,
  InvalidMappingError,
  ItemBuilder,
  isTransient,
  NotFoundError,
  type ObjectStore,
  type PhudgeConfig,
  type RunOptions,
  resolveInputs,
  runIdSchema,
  runKeys,
  UnrecoverableError,
} from '@phudge/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { z } from 'zod';
import {
  errorBodySchema,
  gradedSchema,
  gradeSchema,
  queueCountsSchema,
  type RunStatusBody,
  resultRecordsSchema,
  runParamsSchema,
  runStatusSchema,
  submitRunSchema,
  submittedSchema,
  summarySchema,
} from './api-schemas.js';
import { authenticate, type TokenVerifier } from './auth.js';
import type { RunDescription, RunInput } from './ingest.js';
import { openApiDocument } from './openapi.js';
import { isFinished, type RunRecord, type RunStore } from './run-store.js';

export { MAX_GRADE_ITEMS, type SubmitRunBody } from './api-schemas.js';

/** A documented response of a route. */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** @defaultValue application/json */
  contentType?: string;
}

/**
 * One /v1 route: what the OpenAPI document says of it and what the server enforces, from the
 * same values (the scopes a token needs, the schemas its input is validated with).
 */
export interface RouteSpec {
  method: 'GET' | 'POST';
  /** Fastify's form: `/v1/runs/:id`. */
  url: string;
  operationId: string;
  summary: string;
  /** Every one of them is needed. */
  scopes: readonly ApiScope[];
  params?: z.ZodObject;
  body?: z.ZodType;
  /** A valid request: the document carries it, and a test sends it. */
  example?: { params?: Record<string, string>; body?: unknown };
  responses: Record<number, ResponseSpec>;
}

const error = (description: string): ResponseSpec => ({ description, schema: errorBodySchema });
const AUTH_ERRORS = {
  401: error('no valid bearer token'),
  403: error('the token lacks a scope the route needs'),
};
const EXAMPLE_ITEM = {
  id: 'log-1',
  instruction: 'How do I reset my password?',
  response: 'Open Settings, then Security, then Reset password.',
  metadata: { channel: 'web' },
};
const EXAMPLE_RUN = { id: 'nightly-2026-12-01' };

/** Every /v1 route the producer serves. */
export const API_ROUTES = {
  submitRun: {
    method: 'POST',
    url: '/v1/runs',
    operationId: 'submitRun',
    summary:
      'Starts a run over an input URI or inline items; the same runId twice is one run (409 if its input differs).',
    scopes: ['submit'],
    body: submitRunSchema,
    example: {
      body: { input: { items: [EXAMPLE_ITEM] }, rubric: 'helpfulness', segments: ['channel'] },
    },
    responses: {
      202: { description: 'accepted: ingestion runs in the background', schema: submittedSchema },
      400: error('a bad body, or an input that does not exist'),
      ...AUTH_ERRORS,
      409: error('the runId exists with another input or options'),
    },
  },
  getRun: {
    method: 'GET',
    url: '/v1/runs/:id',
    operationId: 'getRun',
    summary: "A run's state and progress.",
    scopes: ['read'],
    params: runParamsSchema,
    example: { params: EXAMPLE_RUN },
    responses: {
      200: { description: 'the status', schema: runStatusSchema },
      ...AUTH_ERRORS,
      404: error('no such run'),
    },
  },
  getSummary: {
    method: 'GET',
    url: '/v1/runs/:id/summary',
    operationId: 'getSummary',
    summary: "A finished run's summary.json.",
    scopes: ['read'],
    params: runParamsSchema,
    example: { params: EXAMPLE_RUN },
    responses: {
      200: { description: 'the summary', schema: summarySchema },
      ...AUTH_ERRORS,
      404: error('no such run'),
      409: error('the run is not finished'),
    },
  },
  getResults: {
    method: 'GET',
    url: '/v1/runs/:id/results',
    operationId: 'getResults',
    summary: "A finished run's results as JSONL, in input order.",
    scopes: ['read'],
    params: runParamsSchema,
    example: { params: EXAMPLE_RUN },
    responses: {
      200: {
        description: 'one record per line',
        schema: resultRecordsSchema,
        contentType: 'application/x-ndjson',
      },
      ...AUTH_ERRORS,
      404: error('no such run'),
      409: error('the run is not finished'),
    },
  },
  cancelRun: {
    method: 'POST',
    url: '/v1/runs/:id/cancel',
    operationId: 'cancelRun',
    summary:
      'Cancels a run: its ingestion stops, its chunks not yet on an engine are removed, those on one finish and are kept; it ends cancelled with a summary of what was graded. A run that has ended is left as it is.',
    scopes: ['submit'],
    params: runParamsSchema,
    example: { params: EXAMPLE_RUN },
    responses: {
      200: { description: 'the status, cancelled unless the run had ended before', schema: runStatusSchema },
      ...AUTH_ERRORS,
      404: error('no such run'),
    },
  },
  grade: {
    method: 'POST',
    url: '/v1/grade',
    operationId: 'grade',
    summary: 'Grades a few items (at most 256) and answers with their results.',
    scopes: ['submit', 'read'],
    body: gradeSchema,
    example: { body: { items: [EXAMPLE_ITEM], rubric: 'helpfulness' } },
    responses: {
      200: { description: 'the results, in input order', schema: gradedSchema },
      400: error('a bad body'),
      ...AUTH_ERRORS,
      504: error('not graded within the timeout: poll the run by its runId'),
    },
  },
  queue: {
    method: 'GET',
    url: '/v1/queue',
    operationId: 'queue',
    summary: 'Chunk jobs by state, for autoscalers.',
    scopes: ['metrics'],
    responses: { 200: { description: 'counts', schema: queueCountsSchema }, ...AUTH_ERRORS },
  },
} as const satisfies Record<string, RouteSpec>;

/** What the API needs from the producer. */
export interface ApiDeps {
  config: PhudgeConfig;
  verifier: TokenVerifier;
  inputs: InputPolicy;
  store: ObjectStore;
  runs: RunStore;
  /** Starts (or resumes) ingestion of a run in the background. */
  submit(
    runId: string | undefined,
    input: RunInput,
    description: RunDescription,
    options: RunOptions,
    chunkSize?: number,
  ): Promise<{ runId: string; created: boolean } | { conflict: string }>;
  queueCounts(): Promise<Record<string, number>>;
  /** A run Redis has no record of, rebuilt from the store if it is there. */
  rebuild(runId: string): Promise<RunRecord | undefined>;
  /** Cancels a run (see cancelRun). @returns the run as it is now. */
  cancel(run: RunRecord): Promise<RunRecord>;
}

/** The public status of a run. */
export async function runStatus(run: RunRecord, store: ObjectStore): Promise<RunStatusBody> {
  const errors = run.counters.errors ?? 0;
  // Listed rather than counted: a finished run's Parquet files are whatever its collector wrote.
  const parquet =
    isFinished(run) && run.options.output?.format === 'parquet'
      ? (await store.list(runKeys.parquetPrefix(run.runId))).map((key) => store.uri(key))
      : undefined;
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
    etaSeconds: etaSeconds(run),
    ...(parquet ? { parquetUris: parquet } : {}),
    ...(run.failure ? { failure: run.failure } : {}),
  };
}

/**
 * Seconds a running run has left at its pace so far (items done since it was submitted), or null
 * while that cannot be told: before its first results, while it is still being ingested (its
 * total is unknown), once it has ended.
 */
export function etaSeconds(run: RunRecord, now: number = Date.now()): number | null {
  if (run.state !== 'running' || run.items === undefined || run.done === 0) return null;
  const elapsedSeconds = (now - run.createdAt) / 1000;
  return Math.max(0, ((run.items - run.done) * elapsedSeconds) / run.done);
}

/** The /v1 routes (behind tokens and scopes) and `/openapi.json` (public). */
export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  const document = openApiDocument(Object.values(API_ROUTES));
  app.get('/openapi.json', async () => document);
  app.register(async (v1) => {
    v1.addHook('onRequest', authenticate(deps.verifier));
    v1.addHook('onResponse', logRequest);
    v1.setErrorHandler(answerError);
    const route = (spec: RouteSpec, handler: RouteHandlerMethod) =>
      v1.route({ method: spec.method, url: spec.url, config: { scopes: spec.scopes }, handler });

    route(API_ROUTES.submitRun, async (request, reply) => {
      const body = parseBody(submitRunSchema, request.body, reply);
      if (!body) return reply;
      const { input, runId, chunkSize, ...options } = body;
      if (!checkItemOptions(options, reply)) return reply;
      let source: RunInput;
      if ('items' in input) {
        source = { items: input.items };
      } else {
        try {
          const uris = 'uri' in input ? [input.uri] : input.uris;
          source = { files: await resolveInputs(uris, { s3: deps.config.s3, policy: deps.inputs }) };
        } catch (error) {
          if (error instanceof InputForbiddenError)
            return reply.code(403).send({ error: 'input_forbidden', message: error.message });
          if (error instanceof InputNotFoundError || error instanceof UnrecoverableError)
            return reply.code(400).send({ error: 'bad_input', message: error.message });
          throw error;
        }
      }
      const result = await deps.submit(runId, source, input, options, chunkSize);
      if ('conflict' in result) return reply.code(409).send({ error: 'conflict', message: result.conflict });
      return reply.code(202).send({ runId: result.runId, created: result.created });
    });

    route(API_ROUTES.getRun, async (request, reply) => {
      const run = await findRun(deps, request, reply);
      if (!run) return reply;
      return await runStatus(run, deps.store);
    });

    route(API_ROUTES.cancelRun, async (request, reply) => {
      const run = await findRun(deps, request, reply);
      if (!run) return reply;
      return await runStatus(await deps.cancel(run), deps.store);
    });

    route(API_ROUTES.getSummary, async (request, reply) => {
      const run = await findRun(deps, request, reply);
      if (!run) return reply;
      if (!isFinished(run))
        return reply.code(409).send({ error: 'not_finished', message: `run is ${run.state}` });
      return reply.type('application/json').send(await deps.store.get(runKeys.summary(run.runId)));
    });

    route(API_ROUTES.getResults, async (request, reply) => {
      const run = await findRun(deps, request, reply);
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

    route(API_ROUTES.grade, async (request, reply) => {
      const body = parseBody(gradeSchema, request.body, reply);
      if (!body) return reply;
      const { items, timeoutMs, runId: requestedId, ...options } = body;
      if (!checkItemOptions(options, reply)) return reply;
      // A person waits on a grade: its chunks go before every batch run's.
      const submitted = await deps.submit(
        requestedId,
        { items },
        { items },
        { ...options, priority: 'interactive' },
      );
      if ('conflict' in submitted)
        return reply.code(409).send({ error: 'conflict', message: submitted.conflict });
      const { runId } = submitted;
      const deadline = Date.now() + (timeoutMs ?? deps.config.producer.gradeTimeoutMs);
      // Polled by its state alone (one HMGET); the whole run is read once it has ended.
      let progress = await deps.runs.progress(runId);
      while (progress && !isFinished(progress) && Date.now() < deadline) {
        await sleep(50);
        progress = await deps.runs.progress(runId);
      }
      const run = progress && isFinished(progress) ? await deps.runs.get(runId) : undefined;
      if (!run) {
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

    route(API_ROUTES.queue, async () => {
      const counts = await deps.queueCounts();
      return { ...counts, pending: sumPending(counts) };
    });
  });
}

/** Seconds a client is asked to wait when Redis or the store is out: a restart takes seconds. */
const BACKEND_RETRY_AFTER_S = 5;

/** Stable codes for the client errors Fastify raises itself (a body too large, of an unknown type). */
const CLIENT_ERROR_CODES: Record<number, string> = { 413: 'too_large', 415: 'unsupported_media_type' };

/**
 * The answer to an error no route handled. Redis or the store being out is the client's to retry
 * (503 with Retry-After, which the SDK honours); anything else is our fault (500). Neither echoes
 * the error's message: it names internal hosts and ports. The log has it, under the request id.
 */
async function answerError(
  error: Error & { statusCode?: number },
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500)
    return reply
      .code(status)
      .send({ error: CLIENT_ERROR_CODES[status] ?? 'bad_request', message: error.message });
  if (isTransient(error)) {
    request.log.warn({ err: error }, 'a backend is unavailable: asking the client to retry');
    return reply
      .code(503)
      .header('retry-after', String(BACKEND_RETRY_AFTER_S))
      .send({ error: 'unavailable', message: 'Redis or the object store is unavailable; retry shortly' });
  }
  request.log.error({ err: error }, 'request failed');
  return reply.code(500).send({ error: 'internal', message: `internal error (request ${request.id})` });
}

/**
 * One log line per /v1 request, naming the token by its name. The URL is not logged (a client
 * might put a secret in a query string); the route pattern and the run id are.
 */
async function logRequest(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const { id } = (request.params ?? {}) as { id?: string };
  request.log.info(
    {
      method: request.method,
      route: request.routeOptions.url ?? null,
      ...(id !== undefined && runIdSchema.safeParse(id).success ? { runId: id } : {}),
      status: reply.statusCode,
      tokenName: request.apiToken?.name ?? null,
      ms: Math.round(reply.elapsedTime),
    },
    'api request',
  );
}

/** Chunk jobs not finished: what autoscaling follows. A plain list length would miss prioritized and delayed jobs. */
export function sumPending(counts: Record<string, number>): number {
  return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0);
}

async function findRun(
  deps: ApiDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<RunRecord | undefined> {
  const params = runParamsSchema.safeParse(request.params);
  const id = params.success ? params.data.id : undefined;
  const run = id ? ((await deps.runs.get(id)) ?? (await deps.rebuild(id))) : undefined;
  if (!run) {
    const { id: asked } = request.params as { id: string };
    await reply.code(404).send({ error: 'not_found', message: `no run ${asked}` });
  }
  return run;
}

/**
 * Compiles a run's mapping and rubric choice now, so that an expression that does not parse (or
 * rubric with rubrics) is a 400 naming it, not a run of error records.
 */
function checkItemOptions(options: RunOptions, reply: FastifyReply): boolean {
  try {
    new ItemBuilder(options);
    return true;
  } catch (error) {
    if (!(error instanceof InvalidMappingError || error instanceof ConflictingRubricsError)) throw error;
    void reply.code(400).send({ error: 'bad_request', message: error.message });
    return false;
  }
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  void reply.code(400).send({ error: 'bad_request', message: describeZodError(parsed.error) });
  return undefined;
}

/**
 * Parts read ahead while the stream writes the current one: a part is a round trip to the store,
 * and one at a time left the stream waiting on latency (39,000 lines/s for a million items).
 */
const PARTS_READ_AHEAD = 8;

/** The results parts of a finished run, in chunk order (so in input order). */
async function streamResults(
  store: ObjectStore,
  run: RunRecord,
  write: (chunk: Buffer) => boolean,
  drain: () => Promise<unknown> = async () => {},
): Promise<void> {
  // A cancelled run has the parts it graded, maybe not all of its chunks were even cut: listed.
  const keys =
    run.state === 'cancelled'
      ? (await store.list(runKeys.resultsPrefix(run.runId))).sort()
      : Array.from({ length: run.chunks ?? 0 }, (_, chunk) => runKeys.results(run.runId, chunk));
  const read = (key: string) => {
    const part = store.get(key).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined; // a failed chunk whose input was lost: counted in the summary
      throw error;
    });
    // Awaited in turn; a read ahead that fails while an earlier part is written is not unhandled.
    part.catch(() => {});
    return part;
  };
  const ahead = keys.slice(0, PARTS_READ_AHEAD).map(read);
  for (let i = 0; i < keys.length; i++) {
    const part = await (ahead.shift() as Promise<Buffer | undefined>);
    if (i + PARTS_READ_AHEAD < keys.length) ahead.push(read(keys[i + PARTS_READ_AHEAD] as string));
    if (part && !write(part)) await drain();
  }
}
