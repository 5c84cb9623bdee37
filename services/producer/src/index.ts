export * from './api.js';
export * from './collector.js';
export * from './ingest.js';
export * from './ingestions.js';
export * from './lease.js';
export * from './producer.js';
export * from './run-store.js';
