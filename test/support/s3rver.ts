import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';

/** A real S3-compatible HTTP server on an ephemeral port, with a bucket and a data folder of its own. */
export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** Environment for a service process that should use this server. */
  env: Record<string, string>;
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data (for outage tests). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startS3rver(bucket = 'phudge'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  let port = 0;
  let server: { run(): Promise<AddressInfo>; close(): Promise<void> } | undefined;
  const start = async () => {
    server = new S3rver({
      port,
      address: '127.0.0.1',
      silent: true,
      directory,
      configureBuckets: [{ name: bucket }],
    });
    const address = await (server as { run(): Promise<AddressInfo> }).run();
    port = address.port;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      PHUDGE_S3_ENDPOINT: endpoint,
      PHUDGE_S3_FORCE_PATH_STYLE: 'true',
      PHUDGE_S3_REGION: 'us-east-1',
      // s3rver's fixed test credentials.
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    },
    stop: async () => {
      await server?.close();
      server = undefined;
    },
    start,
    close: async () => {
      await server?.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
