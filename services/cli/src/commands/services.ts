import { parseArgs } from 'node:util';
import { createLogger, loadConfig, onShutdownSignal } from '@phudge/core';
import { ProducerService } from '@phudge/producer';
import { WorkerService } from '@phudge/worker';
import { DEFAULT_MODEL_DIR } from '../paths.js';

export const PRODUCER_USAGE = `Usage: phudge producer [--port N]

Starts the producer: the HTTP API (/v1/runs, /v1/grade, /v1/queue), ingestion of runs into chunk
jobs, and the collector that writes run summaries. Configured by PHUDGE_* variables (README).`;

export const WORKER_USAGE = `Usage: phudge worker [--port N] [--model DIR] [--device cpu|cuda:N]

Starts a grading worker: one ONNX Runtime session for the process's life, chunk jobs from Redis,
results to the object store. Drains on SIGTERM. Configured by PHUDGE_* variables (README).`;

export async function producerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${PRODUCER_USAGE}\n`);
    return 0;
  }
  const config = loadConfig({ port: values.port === undefined ? undefined : Number(values.port) });
  const logger = createLogger(config.log.level, 'phudge-producer');
  const service = new ProducerService(config, logger);
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'stopping');
    await service.stop();
  });
  await service.start();
  return new Promise(() => {}); // runs until a signal stops it
}

export async function workerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      model: { type: 'string' },
      device: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${WORKER_USAGE}\n`);
    return 0;
  }
  const config = loadConfig({
    port: values.port === undefined ? undefined : Number(values.port),
    model: values.model,
    device: values.device,
  });
  const logger = createLogger(config.log.level, 'phudge-worker');
  const service = new WorkerService({ config, logger, model: config.model || DEFAULT_MODEL_DIR });
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'draining');
    await service.stop();
  });
  await service.start();
  return new Promise(() => {});
}
