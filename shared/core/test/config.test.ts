import { describe, expect, it } from 'vitest';
import { configEnvironmentVariables, loadConfig, parseDevice, UnrecoverableError } from '../src/index.js';

describe('config', () => {
  it('has working defaults with an empty environment', () => {
    const config = loadConfig({}, {});
    expect(config.device).toBe('cpu');
    expect(config.engine.maxBatchTokens).toBeGreaterThan(0);
  });

  it('reads PHUDGE_* variables, and overrides win over them', () => {
    const env = { PHUDGE_DEVICE: 'cuda:1', PHUDGE_MAX_BATCH_TOKENS: '4096' };
    expect(loadConfig({}, env)).toMatchObject({ device: 'cuda:1', engine: { maxBatchTokens: 4096 } });
    expect(loadConfig({ 'engine.maxBatchTokens': 2048 }, env).engine.maxBatchTokens).toBe(2048);
  });

  it('fails fast naming the key of a bad value', () => {
    expect(() => loadConfig({}, { PHUDGE_DEVICE: 'tpu' })).toThrow(UnrecoverableError);
    expect(() => loadConfig({}, { PHUDGE_DEVICE: 'tpu' })).toThrow(/device/);
    expect(() => loadConfig({}, { PHUDGE_MAX_BATCH_SIZE: 'many' })).toThrow(/engine\.maxBatchSize/);
  });

  it('names every variable PHUDGE_*', () => {
    const names = configEnvironmentVariables();
    expect(names).toContain('PHUDGE_MODEL');
    expect(names.every((name) => name.startsWith('PHUDGE_'))).toBe(true);
  });

  it('parses devices', () => {
    expect(parseDevice('cpu')).toEqual({ kind: 'cpu' });
    expect(parseDevice('cuda:3')).toEqual({ kind: 'cuda', id: 3 });
    expect(parseDevice('cuda')).toEqual({ kind: 'cuda', id: 0 });
  });
});
