import { describe, expect, it } from 'vitest';
import { loadConfig, queuePrefix, redisTarget, runRedisKeys, UnrecoverableError } from '../src/index.js';

const SECRET = 's3cr,et';

/** The message of what `read` throws, checked to be an UnrecoverableError that never shows the password. */
function refusal(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(UnrecoverableError);
    const { message } = error as Error;
    expect(message).not.toContain('s3cr');
    return message;
  }
  throw new Error('expected a refusal');
}

describe('Redis settings (PHUDGE_REDIS_URL, PHUDGE_REDIS_CLUSTER)', () => {
  it('passes one Redis URL on as it is, a password with a comma included', () => {
    const url = `rediss://app:${SECRET}@redis.internal:6380/2`;
    expect(redisTarget({ url, cluster: false })).toEqual({ kind: 'single', url });
  });

  it('refuses several nodes without the cluster flag, saying which flag', () => {
    const url = `redis://:${SECRET}@10.0.0.1:7000,redis://10.0.0.2:7000, redis://10.0.0.3:7000`;
    const message = refusal(() => redisTarget({ url, cluster: false }));
    expect(message).toMatch(/^redis\.url: PHUDGE_REDIS_URL names 3 Redis nodes/);
    expect(message).toContain('10.0.0.1:7000, 10.0.0.2:7000, 10.0.0.3:7000');
    expect(message).toContain('PHUDGE_REDIS_CLUSTER=true');
  });

  it('reads a cluster from one configuration endpoint, the port 6379 unless named', () => {
    expect(redisTarget({ url: 'redis://clustercfg.example.cache.amazonaws.com', cluster: true })).toEqual({
      kind: 'cluster',
      nodes: [{ host: 'clustercfg.example.cache.amazonaws.com', port: 6379 }],
      tls: false,
    });
  });

  it('reads a cluster from several nodes, the credentials written once or the same on each, TLS from rediss://', () => {
    const nodes = [
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ];
    const once = `rediss://app%40team:${encodeURIComponent(SECRET)}@10.0.0.1:7000,rediss://10.0.0.2:7001,rediss://[::1]:7002`;
    const expected = { kind: 'cluster', nodes, tls: true, username: 'app@team', password: SECRET };
    expect(redisTarget({ url: once, cluster: true })).toEqual(expected);
    const each = ['10.0.0.1:7000', '10.0.0.2:7001', '[::1]:7002']
      .map((node) => `rediss://app%40team:${encodeURIComponent(SECRET)}@${node}/0`)
      .join(',');
    expect(redisTarget({ url: each, cluster: true })).toEqual(expected);
    // A password alone (the default user).
    expect(redisTarget({ url: 'redis://:pw@10.0.0.1:7000', cluster: true })).toMatchObject({
      password: 'pw',
      tls: false,
    });
  });

  it('refuses a cluster whose URLs disagree, name a database, or are not Redis URLs', () => {
    const cluster = (url: string) => refusal(() => redisTarget({ url, cluster: true }));
    expect(cluster(`redis://:${SECRET}@a:1,rediss://b:2`)).toMatch(
      /^redis\.url: .*mix redis:\/\/ and rediss:\/\//,
    );
    expect(cluster(`redis://:${SECRET}@a:1,redis://:other@b:2`)).toMatch(/different users or passwords/);
    expect(cluster(`redis://:${SECRET}@a:1/3`)).toBe(
      'redis.url: a:1 names database 3; a Redis Cluster has only database 0',
    );
    expect(cluster(`http://a:1`)).toMatch(/^redis\.url: a:1 is not a redis:\/\/ or rediss:\/\/ URL/);
    expect(cluster(`:${SECRET}@a`)).toMatch(/^redis\.url: entry 1 of PHUDGE_REDIS_URL is not a URL/);
  });

  it('is checked when the config loads, naming the key', () => {
    expect(
      loadConfig({}, { PHUDGE_REDIS_URL: 'redis://a:7000,redis://b:7000', PHUDGE_REDIS_CLUSTER: 'true' })
        .redis,
    ).toEqual({ url: 'redis://a:7000,redis://b:7000', cluster: true });
    expect(loadConfig({}, {}).redis).toEqual({ url: 'redis://127.0.0.1:6379', cluster: false });
    const message = refusal(() => loadConfig({}, { PHUDGE_REDIS_URL: `redis://:${SECRET}@a:1,redis://b:2` }));
    expect(message).toMatch(/^invalid configuration: redis\.url: .*PHUDGE_REDIS_CLUSTER=true/);
  });

  it('hash-tags the queue prefix and the run keys on a cluster only, keeping the single-Redis layout', () => {
    const single = { queue: { prefix: 'phudge' }, redis: { cluster: false } };
    const cluster = { queue: { prefix: 'phudge' }, redis: { cluster: true } };
    expect(queuePrefix(single)).toBe('phudge');
    expect(queuePrefix(cluster)).toBe('{phudge}');
    expect(queuePrefix({ ...cluster, queue: { prefix: 'team:{fleet}' } })).toBe('team:{fleet}');
    expect(runRedisKeys(single).run('r1')).toBe('phudge:run:r1');
    expect(runRedisKeys(single).counted('r1')).toBe('phudge:run:r1:chunks');
    expect(runRedisKeys(single).latest('nightly')).toBe('phudge:latest:nightly');
    expect(runRedisKeys(cluster).run('r1')).toBe('phudge:run:{r1}');
    expect(runRedisKeys(cluster).counted('r1')).toBe('phudge:run:{r1}:chunks');
    expect(runRedisKeys(cluster).lease('r1')).toBe('phudge:run:{r1}:lease');
    expect(runRedisKeys(cluster).baseline('nightly', 'r1')).toBe('phudge:latest:{nightly}:baseline:r1');
    expect(runRedisKeys(cluster).unIngested()).toBe('phudge:runs:ingesting');
  });
});
