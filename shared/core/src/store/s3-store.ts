import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  checkFolder,
  checkKey,
  ForeignUriError,
  joinKey,
  NotFoundError,
  type ObjectStore,
} from './object-store.js';

/** How to reach an S3 or S3-compatible store. Credentials come from the standard AWS_* chain. */
export interface S3Settings {
  /** Custom endpoint (MinIO, s3rver); empty for AWS. */
  endpoint?: string;
  forcePathStyle?: boolean;
  region?: string;
  /** Longest wait for a connection. @defaultValue 5000 */
  connectTimeoutMs?: number;
  /** Longest time a request may go without receiving a byte (a store that stalls). @defaultValue 30000 */
  requestTimeoutMs?: number;
}

/** Bodies above this go up as a multipart upload: parts retry on their own, memory stays bounded. */
const MULTIPART_THRESHOLD_BYTES = 16 * 1024 * 1024;

export function createS3Client(settings: S3Settings): S3Client {
  const config: S3ClientConfig = {
    region: settings.region || process.env.AWS_REGION || 'us-east-1',
    forcePathStyle: settings.forcePathStyle ?? false,
    // S3-compatible stores do not all understand the newer default checksums: with them a
    // streamed PutObject to s3rver stored the chunk framing (45 extra bytes) silently.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Without these a store that accepts a connection and never answers hangs a request forever.
    // The socket's idle timeout, not a whole-request one: a long download that keeps receiving
    // bytes is never cut, a stalled one fails (TimeoutError) and is retried.
    requestHandler: {
      connectionTimeout: settings.connectTimeoutMs ?? 5000,
      socketTimeout: settings.requestTimeoutMs ?? 30_000,
    },
  };
  if (settings.endpoint) config.endpoint = settings.endpoint;
  return new S3Client(config);
}

/** Splits `s3://bucket/some/prefix` into bucket and prefix. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) throw new Error(`not an s3:// URL: ${url}`);
  return { bucket: match[1] as string, prefix: (match[2] as string).replace(/\/+$/, '') };
}

/** An S3 bucket (and optional prefix) as an object store. */
export class S3ObjectStore implements ObjectStore {
  readonly url: string;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    url: string,
    private readonly client: S3Client,
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Url(url));
    this.url = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  keyOf(uri: string): string {
    const root = `${this.url}/`;
    if (!uri.startsWith(root)) throw new ForeignUriError(uri, this.url);
    return checkKey(uri.slice(root.length));
  }

  async put(key: string, body: string | Uint8Array | Readable): Promise<void> {
    const Key = this.objectKey(key);
    const small = !(body instanceof Readable) && Buffer.byteLength(body) < MULTIPART_THRESHOLD_BYTES;
    if (small) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body }));
      return;
    }
    await new Upload({ client: this.client, params: { Bucket: this.bucket, Key, Body: body } }).done();
  }

  async get(key: string): Promise<Buffer> {
    const stream = await this.getStream(key);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return response.Body as Readable;
    } catch (error) {
      throw notFoundOr(error, key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (error) {
      if (notFoundOr(error, key) instanceof NotFoundError) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of this.pages(prefix)) {
      for (const object of page.Contents ?? []) if (object.Key) keys.push(this.keyIn(object.Key));
    }
    return keys.sort();
  }

  async listFolders(prefix: string): Promise<string[]> {
    const folders: string[] = [];
    for await (const page of this.pages(prefix, '/')) {
      for (const common of page.CommonPrefixes ?? []) {
        if (common.Prefix) folders.push(this.keyIn(common.Prefix).slice(prefix.length, -1));
      }
    }
    return folders.sort();
  }

  /** ListObjectsV2 pages under a folder prefix, following continuation tokens. */
  private async *pages(prefix: string, Delimiter?: string): AsyncGenerator<ListObjectsV2CommandOutput> {
    const Prefix = `${this.prefix ? `${this.prefix}/` : ''}${checkFolder(prefix)}`;
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix, Delimiter, ContinuationToken }),
      );
      yield page;
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /** The store key of a bucket key under this store's prefix. */
  private keyIn(objectKey: string): string {
    return this.prefix ? objectKey.slice(this.prefix.length + 1) : objectKey;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    return joinKey(this.prefix, checkKey(key));
  }
}

function notFoundOr(error: unknown, key: string): Error {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (name === 'NoSuchKey' || name === 'NotFound' || $metadata?.httpStatusCode === 404) {
    return new NotFoundError(`no object ${key}`);
  }
  return error as Error;
}
