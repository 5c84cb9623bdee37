export * from './chunk-processor.js';
export * from './metrics.js';
export * from './worker.js';
