import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describeZodError, type JudgeManifest, judgeManifestSchema, UnrecoverableError } from '@phudge/core';
import type { EngineOptions } from './engine/protocol.js';

/** A judge bundle on disk, validated: manifest parsed, every file present, model checksum verified. */
export interface JudgeBundle {
  dir: string;
  manifest: JudgeManifest;
  modelPath: string;
  tokenizerPath: string;
  tokenizerConfigPath: string;
  /** `name@version`, as written in every result. */
  modelId: string;
}

export const MANIFEST_FILE = 'judge.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/**
 * Loads and verifies a judge bundle folder.
 * @throws UnrecoverableError naming the missing or corrupt file.
 */
export async function loadBundle(directory: string): Promise<JudgeBundle> {
  const dir = resolve(directory);
  const manifestPath = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    throw new UnrecoverableError(
      `judge bundle ${dir}: missing ${MANIFEST_FILE} (is this a judge bundle folder?)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UnrecoverableError(
      `judge bundle ${dir}: ${MANIFEST_FILE} is not valid JSON: ${(error as Error).message}`,
    );
  }
  const parsed = judgeManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new UnrecoverableError(`judge bundle ${dir}: ${MANIFEST_FILE}: ${describeZodError(parsed.error)}`);
  }
  const manifest = parsed.data;
  const bundle: JudgeBundle = {
    dir,
    manifest,
    modelPath: join(dir, manifest.model_file),
    tokenizerPath: join(dir, TOKENIZER_FILE),
    tokenizerConfigPath: join(dir, TOKENIZER_CONFIG_FILE),
    modelId: `${manifest.name}@${manifest.version}`,
  };
  const externalPath = manifest.external_data ? join(dir, manifest.external_data) : undefined;
  const required = [
    bundle.modelPath,
    bundle.tokenizerPath,
    bundle.tokenizerConfigPath,
    ...(externalPath ? [externalPath] : []),
  ];
  for (const path of required) {
    await access(path).catch(() => {
      throw new UnrecoverableError(`judge bundle ${dir}: missing ${path.slice(dir.length + 1)}`);
    });
  }
  await verify(dir, bundle.modelPath, manifest.sha256);
  if (externalPath) await verify(dir, externalPath, manifest.external_data_sha256 as string);
  return bundle;
}

/**
 * Digests already computed in this process, by file identity (inode, size, mtime): a bundle
 * downloaded and verified by the model cache, then opened by the judge, is hashed once, not twice
 * (gigabytes of weights at start-up). A changed or replaced file has another identity.
 */
const digests = new Map<string, string>();

async function verify(dir: string, path: string, expected: string): Promise<void> {
  const info = await stat(path);
  const identity = `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  const digest = digests.get(identity) ?? (await sha256File(path));
  digests.set(identity, digest);
  if (digest !== expected) {
    throw new UnrecoverableError(
      `judge bundle ${dir}: ${path.slice(dir.length + 1)} is corrupt: sha256 ${digest} does not match ${MANIFEST_FILE} (${expected})`,
    );
  }
}

/** The engine thread's options for a bundle's model. */
export function engineOptions(
  bundle: JudgeBundle,
  device: EngineOptions['device'] = { kind: 'cpu' },
  threads = 0,
): EngineOptions {
  const { manifest } = bundle;
  return {
    modelPath: bundle.modelPath,
    device,
    threads,
    inputIds: manifest.inputs.input_ids,
    attentionMask: manifest.inputs.attention_mask,
    output: manifest.output,
  };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
