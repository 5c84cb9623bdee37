import {
  type InputPolicy,
  inputFilesSchema,
  isTransient,
  type Logger,
  NotFoundError,
  type ObjectStore,
  resolveInputs,
  type S3Settings,
  UnrecoverableError,
  withRetry,
} from '@phudge/core';
import { closeInput, type Ingestor, RunCancelledError, type RunInput } from './ingest.js';
import type { IngestionLeases } from './lease.js';
import { isFinished, type RunRecord, type RunStore } from './run-store.js';

/** This producer is stopping: its ingestions stop and their leases are released for another replica. */
export class ShutdownError extends Error {
  override readonly name = 'ShutdownError';
}

/** The run's lease expired before it was renewed (Redis away too long): another replica may own it now. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

export interface IngestionsDeps {
  runs: RunStore;
  leases: IngestionLeases;
  ingestor: Ingestor;
  store: ObjectStore;
  /** How to reach S3 for `s3://` inputs. */
  s3: S3Settings;
  /** Where inputs may be read from: a resumed ingestion is held to it as its submission was. */
  inputs: InputPolicy;
  logger: Logger;
  /** Told when this producer starts an ingestion: a new run's, or a resumed one. */
  onStarted?: (kind: 'submitted' | 'resumed') => void;
  onIngested?: (items: number) => void;
  /** Told when a run ended failed because its input could not be ingested (for its webhooks). */
  onFailed?: (runId: string) => Promise<void>;
}

/**
 * The ingestions this producer owns. A run is ingested only by the replica holding its lease;
 * every replica looks for runs whose ingestion has not finished and whose lease is free (their
 * producer died, stopped or hit a long outage) and resumes them, from where they stopped.
 */
export class Ingestions {
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly deps: IngestionsDeps,
    /** How often to look for ingestions to resume. */
    private readonly resumeIntervalMs: number,
  ) {}

  /** Starts looking for unowned ingestions, now and every interval. */
  start(): void {
    void this.resumeUnowned();
    this.timer = setInterval(() => void this.resumeUnowned(), this.resumeIntervalMs);
  }

  /**
   * Ingests the run in the background if no replica holds its lease. `input` is a submission's
   * input, already open; without it (a resume) the run's input is opened again from its source.
   * @returns whether this producer took the ingestion.
   */
  async claim(runId: string, input?: RunInput): Promise<boolean> {
    const taken =
      !this.stopping &&
      !this.running.has(runId) &&
      (await this.deps.leases.acquire(runId).catch(() => false));
    if (!taken || this.running.has(runId)) {
      if (input) await closeInput(input);
      return false;
    }
    const controller = new AbortController();
    const done = this.ingest(runId, controller, input);
    this.running.set(runId, { controller, done });
    return true;
  }

  /** Claims every run whose ingestion has not finished and that no replica owns. */
  async resumeUnowned(): Promise<void> {
    let runIds: string[];
    try {
      runIds = await this.deps.runs.unIngested();
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'could not list ingestions to resume; trying again later');
      return;
    }
    for (const runId of runIds) {
      if (this.stopping) return;
      if (!this.running.has(runId)) await this.claim(runId);
    }
  }

  /** Stops this producer's ingestion of a run (it was cancelled), if it has one, and waits for it to stop. */
  async stopRun(runId: string): Promise<void> {
    const running = this.running.get(runId);
    if (!running) return;
    running.controller.abort(new RunCancelledError(`run ${runId} was cancelled`));
    await running.done;
  }

  /** Stops every ingestion of this producer and releases its leases, so that another replica resumes them at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    const stopped = [...this.running.values()];
    for (const { controller } of stopped) controller.abort(new ShutdownError('the producer is stopping'));
    await Promise.all(stopped.map(({ done }) => done));
  }

  private async ingest(runId: string, controller: AbortController, input?: RunInput): Promise<void> {
    const { runs, leases, ingestor, logger } = this.deps;
    const log = logger.child({ runId });
    // Renewed three times per lifetime, so that one slow or failed renewal does not lose it.
    const renewal = setInterval(() => {
      leases.renew(runId).then(
        (held) => {
          if (!held) controller.abort(new LeaseLostError(`the ingestion lease of run ${runId} expired`));
        },
        (error: Error) => log.warn({ err: error }, 'could not renew the ingestion lease; trying again'),
      );
    }, leases.ttlMs / 3);
    try {
      const run = await withRetry(() => runs.get(runId), { signal: controller.signal });
      if (!run || run.ingested || isFinished(run)) {
        await runs.settleIngestion(runId);
        return;
      }
      this.deps.onStarted?.(input ? 'submitted' : 'resumed');
      if (!input) log.info({ enqueued: run.enqueued }, 'resuming ingestion');
      const source = input ?? (await this.open(run));
      const { items } = await ingestor.ingest(run, source, controller.signal);
      this.deps.onIngested?.(items);
    } catch (error) {
      if (error instanceof RunCancelledError || controller.signal.reason instanceof RunCancelledError) {
        log.info('run cancelled: its ingestion stopped');
      } else if (controller.signal.aborted) {
        log.warn(
          { reason: (controller.signal.reason as Error).message },
          'ingestion interrupted; it will be resumed',
        );
      } else if (isTransient(error)) {
        log.warn({ err: error }, 'ingestion interrupted by a transient fault; it will be resumed');
      } else {
        log.error({ err: error }, 'ingestion failed');
        await runs
          .finish(runId, 'failed', `ingestion failed: ${(error as Error).message}`)
          .then((finished) => (finished ? this.deps.onFailed?.(runId) : undefined))
          .catch((finishError: Error) =>
            log.error({ err: finishError }, 'could not record the failed ingestion or enqueue its event'),
          );
      }
    } finally {
      clearInterval(renewal);
      if (input) await closeInput(input);
      this.running.delete(runId);
      await leases
        .release(runId)
        .catch((error: Error) =>
          log.warn({ err: error }, 'could not release the ingestion lease; it expires'),
        );
    }
  }

  /**
   * The run's input, opened again: the same files in the same order as at submission (a prefix
   * is not listed again), through the same input policy. A missing input is permanent: the run
   * fails with the reason.
   */
  private async open(run: RunRecord): Promise<RunInput> {
    const { input } = run;
    if (!input) throw new UnrecoverableError(`run ${run.runId} has no recorded input; submit it again`);
    const access = { s3: this.deps.s3, policy: this.deps.inputs, exact: true };
    if ('uri' in input) return { files: await resolveInputs([input.uri], access) };
    const key = 'files' in input ? input.files : input.stored;
    let body: Buffer;
    try {
      if ('stored' in input) return { lines: await this.deps.store.getStream(key) };
      body = await this.deps.store.get(key);
    } catch (error) {
      if (error instanceof NotFoundError)
        throw new UnrecoverableError(`the run's stored input ${key} is missing`);
      throw error;
    }
    const { uris } = inputFilesSchema.parse(JSON.parse(body.toString('utf8')));
    return { files: await resolveInputs(uris, access) };
  }
}
