export * from './api.js';
export * from './options.js';
export * from './result.js';
export * from './rubric.js';
export * from './run.js';
export * from './state.js';
export * from './summary.js';
export * from './webhook.js';
