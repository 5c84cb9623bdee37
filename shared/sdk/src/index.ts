export * from './client.js';
export * from './errors.js';
export type { RequestOptions, RetryInfo } from './transport.js';
