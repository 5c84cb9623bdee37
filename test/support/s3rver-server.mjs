// s3rver as a process of its own, so that a test can kill it and start it again on the same port
// with the same data. Usage: node --openssl-legacy-provider s3rver-server.mjs DIR PORT BUCKET
// (PORT 0: any free port). Prints "s3rver port N" when it answers.
import S3rver from 's3rver';

const [directory, port = '0', bucket = 'phudge'] = process.argv.slice(2);
const server = new S3rver({
  port: Number(port),
  address: '127.0.0.1',
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const address = await server.run();
console.log(`s3rver port ${address.port}`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
