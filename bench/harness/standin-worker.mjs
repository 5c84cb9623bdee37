// BENCHMARK HARNESS ONLY: a worker process whose judge is the fixed-latency stand-in.
// Usage: node bench/harness/standin-worker.mjs <msPerBatch>   (configured by PHUDGE_* like a worker)
import { createLogger, loadConfig, onShutdownSignal } from '@phudge/core';
import { WorkerService } from '@phudge/worker';
import { fixedLatencyGrader } from './fixed-latency-grader.mjs';

const config = loadConfig();
const logger = createLogger(config.log.level, 'standin-worker');
const openGrader = fixedLatencyGrader(Number(process.argv[2] ?? 200));
const service = new WorkerService({ config, logger, model: 'none (stand-in)', openGrader });
onShutdownSignal(() => service.stop());
await service.start();
