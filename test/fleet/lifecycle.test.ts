import { createLogger, createServiceServer, Lifecycle, type ServiceState } from '@phudge/core';
import { WorkerService } from '@phudge/worker';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from '../support/fleet.js';
import { MODELS_DIR } from '../support/paths.js';

describe('service lifecycle', () => {
  it('allows only the documented transitions', () => {
    const lifecycle = new Lifecycle();
    expect(lifecycle.ready).toBe(false);
    lifecycle.to('warming');
    expect(() => lifecycle.to('stopped')).toThrow(/cannot go from warming to stopped/);
    lifecycle.to('running');
    expect(lifecycle.ready).toBe(true);
    expect(lifecycle.beginStop()).toBe(true);
    expect(lifecycle.state).toBe('draining');
    lifecycle.to('stopped');
    expect(lifecycle.healthy).toBe(false);
    expect(lifecycle.beginStop()).toBe(false);
  });

  it('answers /healthz and /readyz from the lifecycle', async () => {
    const lifecycle = new Lifecycle();
    const app = createServiceServer({ lifecycle, metrics: new Registry(), logger: createLogger('silent') });
    const status = async (path: string) => (await app.inject(path)).statusCode;
    lifecycle.to('warming');
    expect([await status('/healthz'), await status('/readyz')]).toEqual([200, 503]);
    lifecycle.to('running');
    expect([await status('/healthz'), await status('/readyz')]).toEqual([200, 200]);
    lifecycle.to('draining');
    expect([await status('/healthz'), await status('/readyz')]).toEqual([200, 503]);
    lifecycle.to('stopped');
    expect(await status('/healthz')).toBe(503);
    await app.close();
  });

  describe('a worker', () => {
    let fleet: TestFleet;
    beforeAll(async () => {
      fleet = await TestFleet.start();
    });
    afterAll(() => fleet?.close());

    it('is ready only once warm, and drains then stops', async () => {
      const worker = new WorkerService({
        config: fleet.config,
        logger: createLogger('silent'),
        model: `${MODELS_DIR}tiny-judge`,
      });
      const states: ServiceState[] = [];
      const readiness: boolean[] = [];
      worker.lifecycle.on('change', (state) => {
        states.push(state);
        // What /readyz answers from: the HTTP server is up before the model loads.
        if (state === 'warming') readiness.push(worker.port > 0, worker.lifecycle.ready);
      });
      await worker.start();
      const ready = await fetch(`http://127.0.0.1:${worker.port}/readyz`);
      expect(ready.status).toBe(200);
      await worker.stop();
      expect(states).toEqual(['warming', 'running', 'draining', 'stopped']);
      expect(readiness).toEqual([true, false]);
    });
  });
});
