// s3rver in a process of its own, so that a benchmark's S3 costs the benchmarked process nothing
// (as a remote S3 would). Prints "s3rver port N" when ready. It counts the requests it serves by
// S3 operation class; a parent that spawned it with an IPC channel gets the counts by sending
// any message.
import S3rver from 's3rver';

const server = new S3rver({
  port: 0,
  address: '127.0.0.1',
  silent: true,
  directory: process.argv[2],
  configureBuckets: [{ name: 'phudge' }],
});
const { port } = await server.run();

const requests = { PUT: 0, GET: 0, LIST: 0, HEAD: 0, POST: 0, DELETE: 0 };
server.httpServer.on('request', (request) => {
  const { pathname } = new URL(request.url ?? '/', 'http://s3');
  // Path-style addressing: /bucket is the bucket (a GET lists it), /bucket/key an object.
  const onBucket = pathname.split('/').filter(Boolean).length <= 1;
  const kind = request.method === 'GET' && onBucket ? 'LIST' : request.method;
  if (kind in requests) requests[kind] += 1;
});
process.on('message', () => process.send?.({ ...requests }));

console.log(`s3rver port ${port}`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
