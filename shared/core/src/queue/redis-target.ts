import { UnrecoverableError } from '../errors.js';

/** The Redis settings of the config: `url` and whether it names a Redis Cluster. */
export interface RedisSettings {
  url: string;
  cluster: boolean;
}

/** One node a cluster client first asks for the cluster's layout; it finds the others itself. */
export interface ClusterNode {
  host: string;
  port: number;
}

/**
 * What the fleet connects to: one Redis named by its URL (as ioredis reads it, exactly as before
 * clusters were supported), or a Redis Cluster by its seed nodes and the credentials and TLS that
 * every node of it shares.
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: ClusterNode[]; tls: boolean; username?: string; password?: string };

/**
 * Entries of PHUDGE_REDIS_URL: split only at a comma that starts another redis:// or rediss://
 * URL, so that a password holding a comma still reads as it always did.
 */
const NEXT_URL = /\s*,\s*(?=rediss?:\/\/)/;

/**
 * Reads the config's Redis settings.
 * @throws UnrecoverableError naming `redis.url` (never the password) when the URL names several
 *   nodes without `redis.cluster`, or a cluster's URLs disagree on TLS or credentials, name a
 *   database other than 0, or are not redis:// or rediss:// URLs.
 */
export function redisTarget(settings: RedisSettings): RedisTarget {
  const entries = settings.url.trim().split(NEXT_URL);
  if (!settings.cluster) {
    if (entries.length > 1)
      throw new UnrecoverableError(
        `redis.url: PHUDGE_REDIS_URL names ${entries.length} Redis nodes (${entries.map(describe).join(', ')}); ` +
          'for a Redis Cluster set PHUDGE_REDIS_CLUSTER=true, otherwise name one Redis',
      );
    return { kind: 'single', url: settings.url };
  }
  const urls = entries.map((entry, i) => parseNodeUrl(entry, i));
  const schemes = new Set(urls.map((url) => url.protocol));
  if (schemes.size > 1)
    throw new UnrecoverableError(
      "redis.url: the cluster's node URLs mix redis:// and rediss://; every node of a cluster speaks TLS or none does",
    );
  // Credentials may be written on one URL or on each; a cluster has one set of users.
  const credentials = new Set(urls.filter((url) => url.username || url.password).map(credentialsOf));
  if (credentials.size > 1)
    throw new UnrecoverableError(
      "redis.url: the cluster's node URLs name different users or passwords; write them once, or the same on each",
    );
  const credentialed = urls.find((url) => url.username || url.password);
  const username = credentialed?.username ? decodeURIComponent(credentialed.username) : undefined;
  const password = credentialed?.password ? decodeURIComponent(credentialed.password) : undefined;
  return {
    kind: 'cluster',
    nodes: urls.map((url) => ({ host: hostOf(url), port: url.port ? Number(url.port) : 6379 })),
    tls: urls[0]?.protocol === 'rediss:',
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
}

function parseNodeUrl(entry: string, index: number): URL {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    // The entry itself is not shown: it may hold a password.
    throw new UnrecoverableError(
      `redis.url: entry ${index + 1} of PHUDGE_REDIS_URL is not a URL; name each cluster node as redis://[user:password@]host:port`,
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new UnrecoverableError(
      `redis.url: ${describe(entry)} is not a redis:// or rediss:// URL; name each cluster node as redis://[user:password@]host:port`,
    );
  if (!url.hostname)
    throw new UnrecoverableError(`redis.url: entry ${index + 1} of PHUDGE_REDIS_URL names no host`);
  if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0')
    throw new UnrecoverableError(
      `redis.url: ${describe(entry)} names database ${url.pathname.slice(1)}; a Redis Cluster has only database 0`,
    );
  return url;
}

function credentialsOf(url: URL): string {
  return `${decodeURIComponent(url.username)}\n${decodeURIComponent(url.password)}`;
}

/** `[::1]` as the URL writes it, `::1` as a socket wants it. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** An entry as it may be shown: host and port only, never the user or password. */
function describe(entry: string): string {
  try {
    const url = new URL(entry);
    return url.port ? `${url.hostname}:${url.port}` : url.hostname;
  } catch {
    return 'an entry that is not a URL';
  }
}
