import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkFolder, checkKey, ForeignUriError, NotFoundError, type ObjectStore } from './object-store.js';

/** The local file system as an object store (`file:///dir`), for a laptop cluster and tests. */
export class FileObjectStore implements ObjectStore {
  readonly url: string;
  private readonly root: string;

  constructor(url: string) {
    this.root = resolve(url.startsWith('file://') ? fileURLToPath(toAbsoluteFileUrl(url)) : url);
    this.url = pathToFileURL(this.root).href;
  }

  uri(key: string): string {
    return pathToFileURL(this.path(key)).href;
  }

  keyOf(uri: string): string {
    const prefix = `${this.url}/`;
    if (!uri.startsWith(prefix)) throw new ForeignUriError(uri, this.url);
    return checkKey(decodeURIComponent(uri.slice(prefix.length)));
  }

  async put(key: string, body: string | Uint8Array | Readable): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    // Write aside, then rename: a reader sees the old object or the new one, never half of one.
    const temporary = `${path}.${randomUUID()}.tmp`;
    try {
      if (body instanceof Readable) await pipeline(body, createWriteStream(temporary));
      else await writeFile(temporary, body);
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      throw notFoundOr(error, key);
    }
  }

  async getStream(key: string): Promise<Readable> {
    const path = this.path(key);
    await access(path).catch((error) => {
      throw notFoundOr(error, key);
    });
    return createReadStream(path);
  }

  async exists(key: string): Promise<boolean> {
    return access(this.path(key)).then(
      () => true,
      () => false,
    );
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (folder: string): Promise<void> => {
      for (const entry of await this.entries(folder)) {
        const key = `${folder}${entry.name}`;
        if (entry.isDirectory()) await walk(`${key}/`);
        // A `.tmp` file is a write in progress, not an object.
        else if (entry.isFile() && !key.endsWith('.tmp')) keys.push(key);
      }
    };
    await walk(checkFolder(prefix));
    return keys.sort();
  }

  async listFolders(prefix: string): Promise<string[]> {
    const entries = await this.entries(checkFolder(prefix));
    return entries
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  }

  /** A folder's entries; none when it does not exist (as an empty S3 prefix). */
  private async entries(folder: string): Promise<Dirent[]> {
    try {
      return await readdir(join(this.root, folder), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async close(): Promise<void> {}

  private path(key: string): string {
    return join(this.root, checkKey(key));
  }
}

/** `file://./data` (relative) is not a real file URL; resolve it against the working directory. */
function toAbsoluteFileUrl(url: string): string {
  const rest = url.slice('file://'.length);
  return rest.startsWith('/') ? url : pathToFileURL(resolve(rest)).href;
}

function notFoundOr(error: unknown, key: string): Error {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new NotFoundError(`no object ${key}`);
  return error as Error;
}
