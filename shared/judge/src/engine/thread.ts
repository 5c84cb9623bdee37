/**
 * The engine thread: owns the one ONNX Runtime session of the process. `session.run()` is a
 * synchronous native call that blocks its thread for the whole batch, so it runs here and never on
 * the main thread, whose event loop must keep renewing queue locks and answering health checks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { EngineBatch, EngineOptions, FromEngine, ToEngine } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('engine thread must run in a worker_threads Worker');
const options = workerData as EngineOptions;

function send(message: FromEngine, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

async function createSession(): Promise<{
  session: ort.InferenceSession;
  provider: string;
  warning?: string;
}> {
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    ...(options.threads > 0 ? { intraOpNumThreads: options.threads } : {}),
  };
  if (options.device.kind === 'cuda') {
    try {
      const session = await ort.InferenceSession.create(options.modelPath, {
        ...base,
        executionProviders: [{ name: 'cuda', deviceId: options.device.id }],
      });
      return { session, provider: `cuda:${options.device.id}` };
    } catch (error) {
      const warning = `CUDA execution provider unavailable (${(error as Error).message.split('\n')[0]}); falling back to cpu`;
      const session = await ort.InferenceSession.create(options.modelPath, {
        ...base,
        executionProviders: ['cpu'],
      });
      return { session, provider: 'cpu', warning };
    }
  }
  const session = await ort.InferenceSession.create(options.modelPath, {
    ...base,
    executionProviders: ['cpu'],
  });
  return { session, provider: 'cpu' };
}

async function run(session: ort.InferenceSession, batch: EngineBatch) {
  const dims = [batch.rows, batch.columns];
  const feeds = {
    [options.inputIds]: new ort.Tensor('int64', batch.inputIds, dims),
    [options.attentionMask]: new ort.Tensor('int64', batch.attentionMask, dims),
  };
  const started = performance.now();
  const outputs = await session.run(feeds, [options.output]);
  const runMs = performance.now() - started;
  const tensor = outputs[options.output];
  if (tensor?.type !== 'float32') throw new Error(`model output ${options.output} is missing or not float32`);
  const data = tensor.data as Float32Array;
  // The buffer is transferred to the main thread: it must hold exactly this tensor.
  const logits = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
  return { logits, rows: batch.rows, runMs };
}

/** A one-row batch, so that the first real batch does not pay for allocation and graph setup. */
function warmupBatch(): EngineBatch {
  const columns = 8;
  const inputIds = new BigInt64Array(columns);
  const attentionMask = new BigInt64Array(columns).fill(1n);
  return { rows: 1, columns, inputIds, attentionMask };
}

async function main(): Promise<void> {
  let created: Awaited<ReturnType<typeof createSession>>;
  const started = performance.now();
  try {
    created = await createSession();
    await run(created.session, warmupBatch());
  } catch (error) {
    send({ type: 'init-failed', message: (error as Error).message });
    return;
  }
  const { session } = created;
  send({
    type: 'ready',
    provider: created.provider,
    warmupMs: performance.now() - started,
    ...(created.warning ? { warning: created.warning } : {}),
  });

  // One batch at a time, in arrival order: the session is not re-entrant.
  let queue = Promise.resolve();
  port?.on('message', (message: ToEngine) => {
    if (message.type === 'close') {
      queue = queue.then(async () => {
        await session.release();
        port?.close();
      });
      return;
    }
    queue = queue.then(async () => {
      try {
        const output = await run(session, message.batch);
        send({ type: 'result', id: message.id, output }, [output.logits.buffer as ArrayBuffer]);
      } catch (error) {
        send({ type: 'run-failed', id: message.id, message: (error as Error).message });
      }
    });
  });
}

void main();
