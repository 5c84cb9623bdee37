import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** A program some tests need that `npm install` cannot provide (a browser, a Python with torch). */
export interface Prerequisite {
  /** What is needed, in a user's words, with where it was looked for. */
  what: string;
  /** The command that installs it. */
  install: string;
  /** Where it was found, or undefined. */
  found: string | undefined;
}

/** A prerequisite missing under CI, which must run every test: there a skip is a failure. */
export class MissingPrerequisiteError extends Error {
  override readonly name = 'MissingPrerequisiteError';
}

/** `CI` set to anything but empty, `0` or `false`, as CI services set it (`CI=true`). */
export function underCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI !== undefined && !['', '0', 'false'].includes(env.CI.toLowerCase());
}

/**
 * Where the prerequisite is; or, when it is missing, undefined after printing ONE line that names
 * it and the command that installs it, for the caller to skip its tests (`describe.skipIf`).
 * @throws MissingPrerequisiteError under CI.
 */
export function findOrSkip(
  prerequisite: Prerequisite,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (prerequisite.found !== undefined) return prerequisite.found;
  const line = `${prerequisite.what} is missing; install it with: ${prerequisite.install}`;
  if (underCi(env)) throw new MissingPrerequisiteError(`${line} (under CI these tests must run, not skip)`);
  console.warn(`skipped: ${line}`);
  return undefined;
}

/** Headless Chromium for the report test: `CHROMIUM_PATH`, else Debian's or Ubuntu's package. */
export function chromium(env: NodeJS.ProcessEnv = process.env): Prerequisite {
  const candidates = env.CHROMIUM_PATH
    ? [env.CHROMIUM_PATH]
    : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return {
    what: `Chromium (${candidates.join(' or ')}; CHROMIUM_PATH names another)`,
    install: 'apt-get install -y chromium',
    found: candidates.find((path) => existsSync(path)),
  };
}

/** What the exporter imports (the same list as models/export/setup.sh checks). */
export const EXPORT_PACKAGES =
  'torch, transformers, peft, onnx, onnxscript, onnxruntime, sentencepiece, tokenizers';

/**
 * A Python that imports {@link EXPORT_PACKAGES}: `PHUDGE_EXPORT_PYTHON`, else the .venv-export that
 * models/export/setup.sh makes (CI runs it), else the system's.
 */
export function exportPython(env: NodeJS.ProcessEnv = process.env): Prerequisite {
  const candidates = env.PHUDGE_EXPORT_PYTHON
    ? [env.PHUDGE_EXPORT_PYTHON]
    : [join(REPO_ROOT, '.venv-export', 'bin', 'python'), 'python3', '/usr/bin/python3'];
  const found = candidates.find((python) => {
    if (python.includes('/') && !existsSync(python)) return false;
    return spawnSync(python, ['-c', `import ${EXPORT_PACKAGES}`], { stdio: 'ignore' }).status === 0;
  });
  return {
    what: `a Python with ${EXPORT_PACKAGES} (${env.PHUDGE_EXPORT_PYTHON ? 'PHUDGE_EXPORT_PYTHON' : '.venv-export or python3'})`,
    install: 'bash models/export/setup.sh',
    found,
  };
}
