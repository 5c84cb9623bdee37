import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../../../test/support/redis.js';
import { startS3rver, type TestS3 } from '../../../test/support/s3rver.js';
import {
  connectRedis,
  InvalidInputError,
  isTransient,
  loadConfig,
  NotFoundError,
  type ObjectStore,
  openStore,
  UnrecoverableError,
  withRetry,
} from '../src/index.js';

/** The error an operation rejects with. */
async function errorOf(operation: () => Promise<unknown>): Promise<unknown> {
  try {
    await operation();
  } catch (error) {
    return error;
  }
  throw new Error('the operation did not fail');
}

function storeAt(endpoint: string, extra: Record<string, string> = {}): ObjectStore {
  return openStore(
    loadConfig(
      {},
      {
        PHUDGE_STORE_URL: 's3://phudge/retry',
        PHUDGE_S3_ENDPOINT: endpoint,
        PHUDGE_S3_FORCE_PATH_STYLE: 'true',
        ...extra,
      },
    ),
  );
}

describe('transient faults', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3rver();
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  });
  afterAll(() => s3?.close());

  it('counts a store that refuses connections as transient, and a missing object as not', async () => {
    const store = storeAt(s3.endpoint);
    try {
      expect(isTransient(await errorOf(() => store.get('no/such/key')))).toBe(false);
      await s3.stop();
      const refused = await errorOf(() => store.get('any/key'));
      expect(refused).not.toBeInstanceOf(NotFoundError);
      expect(isTransient(refused)).toBe(true);
    } finally {
      await s3.start();
      await store.close();
    }
  });

  it('fails a request to a store that accepts connections but never answers within its request timeout, as transient', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket)); // reads nothing, answers nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const store = storeAt(`http://127.0.0.1:${port}`, { PHUDGE_S3_REQUEST_TIMEOUT_MS: '300' });
    try {
      const startedAt = Date.now();
      const stalled = await errorOf(() => store.get('any/key'));
      // The SDK tries 3 times; each gives up after 300 ms without a byte.
      expect(Date.now() - startedAt).toBeLessThan(10_000);
      expect(isTransient(stalled)).toBe(true);
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('counts a Redis that went away as transient', async () => {
    const redis = await startRedis();
    const client = await connectRedis(redis.url, 'client');
    client.on('error', () => {}); // reconnection attempts, expected here
    try {
      await client.set('k', 'v');
      await redis.stop('SIGKILL');
      expect(isTransient(await errorOf(() => client.get('k')))).toBe(true);
    } finally {
      client.disconnect();
      await redis.close();
    }
  });

  it('never counts bad input, unrecoverable errors or an abort as transient', () => {
    expect(isTransient(new InvalidInputError('invalid_input', 'missing field'))).toBe(false);
    expect(isTransient(new UnrecoverableError('corrupt bundle'))).toBe(false);
    const controller = new AbortController();
    controller.abort();
    expect(isTransient(controller.signal.reason)).toBe(false);
    expect(isTransient(new Error('ECONNRESET in a message is not a code'))).toBe(false);
  });

  it('retries a transient fault with backoff until the store is back, and throws anything else at once', async () => {
    const store = storeAt(s3.endpoint);
    try {
      await store.put('retry/k', 'value');
      await s3.stop();
      let tries = 0;
      const restarted = new Promise<void>((resolve) => setTimeout(() => void s3.start().then(resolve), 500));
      const body = await withRetry(
        () => {
          tries += 1;
          return store.get('retry/k');
        },
        { attempts: 10, baseDelayMs: 100, maxDelayMs: 400 },
      );
      await restarted;
      expect(body.toString()).toBe('value');
      expect(tries).toBeGreaterThan(1);

      let permanentTries = 0;
      const missing = await errorOf(() =>
        withRetry(() => {
          permanentTries += 1;
          return store.get('retry/missing');
        }),
      );
      expect(missing).toBeInstanceOf(NotFoundError);
      expect(permanentTries).toBe(1);
    } finally {
      await store.close();
    }
  });
});
