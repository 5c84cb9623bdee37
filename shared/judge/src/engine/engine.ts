import { Worker } from 'node:worker_threads';
import { UnrecoverableError } from '@phudge/core';
import type { EngineBatch, EngineOptions, EngineOutput, FromEngine, ToEngine } from './protocol.js';

/** Busy time of the engine thread, for metrics and benchmarks. */
export interface EngineStats {
  batches: number;
  rows: number;
  /** Milliseconds spent inside session.run. */
  runMs: number;
}

/** What the scheduler needs of an engine. */
export interface ModelEngine {
  /** The execution provider (`cpu`, `cuda:0`, or a stand-in's name). */
  readonly provider: string;
  readonly stats: EngineStats;
  run(batch: EngineBatch): Promise<EngineOutput>;
  close(): Promise<void>;
}

/**
 * The main thread's handle on the engine thread. `run()` queues a batch and resolves with its
 * logits; batches run one at a time in the order they were queued, so the caller can queue the
 * next batch while one runs and the model never waits for the host.
 */
export class Engine implements ModelEngine {
  readonly stats: EngineStats = { batches: 0, rows: 0, runMs: 0 };
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (output: EngineOutput) => void; reject: (error: Error) => void }
  >();
  private exitError: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    /** The execution provider the session runs on (`cpu`, `cuda:0`). */
    readonly provider: string,
  ) {
    worker.on('message', (message: FromEngine) => this.onMessage(message));
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => this.failAll(new Error(`engine thread exited with code ${code}`)));
  }

  /**
   * Starts the engine thread, creates the session and warms it up.
   * @param onWarning told when the requested execution provider is unavailable and cpu is used.
   */
  static async start(
    options: EngineOptions,
    onWarning: (message: string) => void = () => {},
  ): Promise<Engine> {
    // `../dist/` resolves to the compiled thread both from src/ (tests) and from dist/ (runtime).
    const worker = new Worker(new URL('../../dist/engine/thread.js', import.meta.url), {
      workerData: options,
    });
    const ready = await new Promise<Extract<FromEngine, { type: 'ready' }>>((resolve, reject) => {
      worker.once('message', (message: FromEngine) => {
        if (message.type === 'ready') resolve(message);
        else if (message.type === 'init-failed')
          reject(new UnrecoverableError(`cannot load model ${options.modelPath}: ${message.message}`));
        else reject(new Error(`unexpected engine message ${message.type}`));
      });
      worker.once('error', reject);
    }).catch(async (error) => {
      await worker.terminate();
      throw error;
    });
    if (ready.warning) onWarning(ready.warning);
    return new Engine(worker, ready.provider);
  }

  run(batch: EngineBatch): Promise<EngineOutput> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    const message: ToEngine = { type: 'run', id, batch };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message, [
        batch.inputIds.buffer as ArrayBuffer,
        batch.attentionMask.buffer as ArrayBuffer,
      ]);
    });
  }

  /** Finishes the queued batches, releases the session and stops the thread. */
  async close(): Promise<void> {
    if (this.exitError) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies ToEngine);
    await exited;
  }

  private onMessage(message: FromEngine): void {
    if (message.type !== 'result' && message.type !== 'run-failed') return;
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.type === 'run-failed') {
      waiter.reject(new Error(`model run failed: ${message.message}`));
      return;
    }
    this.stats.batches += 1;
    this.stats.rows += message.output.rows;
    this.stats.runMs += message.output.runMs;
    waiter.resolve(message.output);
  }

  private failAll(error: Error): void {
    this.exitError ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
