// s3rver in a process of its own, so that a benchmark's S3 costs the benchmarked process nothing
// (as a remote S3 would). Prints "s3rver port N" when ready.
import S3rver from 's3rver';

const server = new S3rver({
  port: 0,
  address: '127.0.0.1',
  silent: true,
  directory: process.argv[2],
  configureBuckets: [{ name: 'phudge' }],
});
const { port } = await server.run();
console.log(`s3rver port ${port}`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
