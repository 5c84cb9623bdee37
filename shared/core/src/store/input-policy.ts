import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PhudgeConfig } from '../config.js';
import { parseS3Url } from './s3-store.js';

/**
 * An input the producer may not read. Its message is the same whether or not the object exists,
 * so that a refusal never tells a caller what is on the producer's disk or in a bucket.
 */
export class InputForbiddenError extends Error {
  override readonly name = 'InputForbiddenError';
  constructor(uri: string) {
    super(
      `input ${uri} is outside the locations this producer may read (its store, PHUDGE_INPUT_ROOTS, PHUDGE_INPUT_BUCKETS)`,
    );
  }
}

/** An input inside an allowed location that is not there (or not a readable file). */
export class InputNotFoundError extends Error {
  override readonly name = 'InputNotFoundError';
  constructor(uri: string) {
    super(`cannot read input ${uri}: it does not exist or is not a readable file`);
  }
}

/** A location inputs may be read from: a folder of this host, or a bucket with an optional key prefix. */
type AllowedLocation = { kind: 'file'; root: string } | { kind: 's3'; bucket: string; prefix: string };

/** Where the producer may read a run's input from: everything else is refused before it is opened. */
export interface InputPolicyOptions {
  /** The producer's own store (`s3://bucket/prefix` or `file:///dir`): always readable, since `phudge submit` uploads there. */
  storeUrl: string;
  /** Folders `file://` inputs may be under (absolute paths or `file:///` URLs). */
  roots: readonly string[];
  /** `s3://bucket` or `s3://bucket/prefix/` that `s3://` inputs may be under. */
  buckets: readonly string[];
}

/** What {@link InputPolicy.check} found an input to be. */
export type CheckedInput = { kind: 'file'; path: string } | { kind: 's3'; bucket: string; key: string };

/**
 * Confines inputs: a `file://` input is allowed only if its real path (symlinks and `..`
 * resolved) is inside a root; an `s3://` input only if its bucket and key prefix are allowed.
 */
export class InputPolicy {
  private readonly locations: AllowedLocation[];

  constructor(options: InputPolicyOptions) {
    this.locations = [options.storeUrl, ...options.roots, ...options.buckets].map(parseLocation);
  }

  /**
   * @returns where to read the input: the real path of a file, or an S3 bucket and key.
   * @throws InputForbiddenError outside every allowed location (nothing was opened).
   * @throws InputNotFoundError inside an allowed folder but missing.
   */
  async check(uri: string): Promise<CheckedInput> {
    if (uri.startsWith('s3://')) return this.checkS3(uri);
    if (uri.startsWith('file://')) return this.checkFile(uri);
    throw new InputForbiddenError(uri);
  }

  private checkS3(uri: string): CheckedInput {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    if (!match) throw new InputForbiddenError(uri);
    const [, bucket, key] = match as unknown as [string, string, string];
    // S3 keys are literal, but a `..` segment is never a legitimate input and some S3-compatible
    // servers normalise paths: refuse it rather than reason about which.
    if (key.split('/').some((part) => part === '..' || part === '.' || part === '')) {
      throw new InputForbiddenError(uri);
    }
    if (!this.allowsS3(bucket, key)) throw new InputForbiddenError(uri);
    return { kind: 's3', bucket, key };
  }

  /**
   * Allows listing a folder of a bucket (a prefix or a glob's folder, `''` or ending in `/`): only
   * when every key under it is allowed, so that nothing outside is listed, or even asked for.
   * @throws InputForbiddenError
   */
  checkS3Folder(uri: string, bucket: string, folder: string): void {
    if (folder.split('/').some((part) => part === '..' || part === '.')) throw new InputForbiddenError(uri);
    if (!this.allowsS3(bucket, folder)) throw new InputForbiddenError(uri);
  }

  private allowsS3(bucket: string, key: string): boolean {
    return this.locations.some(
      (location) =>
        location.kind === 's3' &&
        location.bucket === bucket &&
        (location.prefix === '' || key.startsWith(`${location.prefix}/`)),
    );
  }

  private async checkFile(uri: string): Promise<CheckedInput> {
    let path: string;
    try {
      path = resolve(fileURLToPath(uri));
    } catch {
      throw new InputForbiddenError(uri);
    }
    const configured = this.roots();
    // Lexically outside every root: refused without touching the disk, so existence never shows.
    if (!configured.some((root) => isInside(path, root))) throw new InputForbiddenError(uri);
    const roots = await realRoots(configured);
    const real = await realpath(path).catch(() => undefined);
    if (real !== undefined) {
      if (!roots.some((root) => isInside(real, root))) throw new InputForbiddenError(uri);
      return { kind: 'file', path: real };
    }
    // Missing: say so only if the deepest folder that exists is really inside a root (not a
    // symlinked folder leading out of it).
    const existing = await deepestRealAncestor(path);
    if (!roots.some((root) => isInside(existing, root))) throw new InputForbiddenError(uri);
    throw new InputNotFoundError(uri);
  }

  /** The allowed folders as configured (their real paths are resolved at each check). */
  private roots(): string[] {
    return this.locations.flatMap((location) => (location.kind === 'file' ? [location.root] : []));
  }
}

/** Roots resolved now: a root created (or re-linked) after start-up is honoured as it is. */
async function realRoots(roots: string[]): Promise<string[]> {
  const real = await Promise.all(roots.map((root) => realpath(root).catch(() => undefined)));
  return real.filter((root): root is string => root !== undefined);
}

/** The producer's policy: its store, `PHUDGE_INPUT_ROOTS` and `PHUDGE_INPUT_BUCKETS`. */
export function inputPolicyFromConfig(config: Pick<PhudgeConfig, 'store' | 'input'>): InputPolicy {
  return new InputPolicy({
    storeUrl: config.store.url,
    roots: splitList(config.input.roots),
    buckets: splitList(config.input.buckets),
  });
}

/** `s3://bucket[/prefix/]`, `file:///dir` or `/dir` as an allowed location. */
function parseLocation(location: string): AllowedLocation {
  if (location.startsWith('s3://')) {
    const { bucket, prefix } = parseS3Url(location);
    return { kind: 's3', bucket, prefix };
  }
  const root = location.startsWith('file://') ? fileURLToPath(toAbsoluteFileUrl(location)) : location;
  return { kind: 'file', root: resolve(root) };
}

/** `file://./data` (relative, as a store URL may be) resolved against the working directory. */
function toAbsoluteFileUrl(url: string): string {
  const rest = url.slice('file://'.length);
  return rest.startsWith('/') ? url : pathToFileURL(resolve(rest)).href;
}

/** @returns whether an input location string is one {@link InputPolicy} understands (config validation). */
export function isInputLocation(location: string, kind: 'file' | 's3'): boolean {
  if (kind === 's3') return /^s3:\/\/[^/]+(\/.*)?$/.test(location);
  if (location.startsWith('file://')) return location.startsWith('file:///');
  return isAbsolute(location);
}

/** A comma-separated config value as its non-empty entries. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

async function deepestRealAncestor(path: string): Promise<string> {
  let current = dirname(path);
  for (;;) {
    const real = await realpath(current).catch(() => undefined);
    if (real !== undefined) return real;
    const parent = dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}
