// s3rver as a process of its own, for `phudge cluster`: its paged ListObjectsV2 (continuation
// tokens) needs Node's legacy OpenSSL provider, which only a flag at a process's start turns on,
// and a run of more than 1,000 chunks lists its parts in pages.
// Usage: node --openssl-legacy-provider s3-server.js DIR PORT BUCKET. Prints "s3rver port N".
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';

const [directory, port = '0', bucket = 'phudge'] = process.argv.slice(2);
const server = new S3rver({
  port: Number(port),
  address: '127.0.0.1',
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const address: { port: number } = await server.run();
process.stdout.write(`s3rver port ${address.port}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
