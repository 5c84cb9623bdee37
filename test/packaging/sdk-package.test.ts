import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from '../support/fleet.js';
import { REPO_ROOT } from '../support/paths.js';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** Packages of the servers, which a client that only sends HTTP requests must not bring along. */
const SERVER_PACKAGES = ['@aws-sdk', 'bullmq', 'ioredis', 'fastify', 'prom-client', 'pino', 'convict'];

/** The SDK example of the README, as a reader copies it. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const example = /### SDK[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (example === undefined) throw new Error('the README has no js example in its SDK section');
  return example;
}

/** A TypeScript user of the SDK; the `@ts-expect-error` lines fail the check if the types are lost (any). */
function typescriptUser(url: string, token: string): string {
  return `import { NotFoundError, PhudgeClient, type ResultRecord, type RunStatus } from '@phudge/sdk';

const phudge = new PhudgeClient({ url: ${JSON.stringify(url)}, token: ${JSON.stringify(token)} });
const { runId } = await phudge.submitRun(
  { items: [{ instruction: 'Is it typed?', response: 'Yes, from the schemas.' }] },
  { rubric: 'helpfulness', mode: 'absolute' },
);
const status = await phudge.waitForRun(runId, { intervalMs: 200 });
const typed: RunStatus = status;
// @ts-expect-error a state the contract does not have
const wrong: 'lost' = status.state;
void wrong;
// Never called: only its types are checked.
// @ts-expect-error an option the contract does not have
void (() => phudge.submitRun({ items: [{}] }, { rubricc: 'helpfulness' }));
const scores: number[] = [];
for await (const result of phudge.results(runId)) {
  const record: ResultRecord = result;
  // @ts-expect-error a record is a result or an error record, never a string
  const asText: string = result;
  void asText;
  if ('score' in record) scores.push(record.score);
}
try {
  await phudge.getRun('no-such-run');
} catch (error) {
  if (!(error instanceof NotFoundError)) throw error;
  console.log(JSON.stringify({ state: typed.state, scores, notFound: error.status}));
}
`;
}

describe('@phudge/sdk as a user installs it', () => {
  let fleet: TestFleet;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'phudge-sdk-package-'));
    const packed = join(dir, 'packed');
    const project = join(dir, 'project');
    await mkdir(packed);
    await mkdir(project);
    // prepack builds what is out of date, so a tarball never lacks its dist/.
    const [pack] = await Promise.all([
      run(
        NPM,
        [
          'pack',
          '--json',
          '--workspace',
          'shared/contracts',
          '--workspace',
          'shared/sdk',
          '--pack-destination',
          packed,
        ],
        { cwd: REPO_ROOT },
      ),
      (async () => {
        fleet = await TestFleet.start();
        await fleet.startWorker();
      })(),
    ]);
    const tarballs = (JSON.parse(pack.stdout) as { filename: string }[]).map((t) => join(packed, t.filename));
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user', private: true, type: 'module' }),
    );
    // zod comes from npm's cache when it is there (it is after `npm ci`), else from the registry.
    await run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], { cwd: project });
    env = { ...process.env, PHUDGE_API_URL: fleet.apiUrl, PHUDGE_API_TOKEN: fleet.token };
  });
  afterAll(async () => {
    await fleet?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs nothing but the SDK, its contracts and zod', async () => {
    const lock = JSON.parse(
      await readFile(join(dir, 'project', 'node_modules', '.package-lock.json'), 'utf8'),
    );
    const installed = Object.keys(lock.packages as Record<string, unknown>).map((path) =>
      path.replace(/^.*node_modules\//, ''),
    );
    expect(installed.sort()).toEqual(['@phudge/contracts', '@phudge/sdk', 'zod']);
    const top = await readdir(join(dir, 'project', 'node_modules'));
    expect(top.filter((name) => SERVER_PACKAGES.includes(name))).toEqual([]);
  });

  it('imports no Node built-in, so that it runs wherever fetch exists', async () => {
    for (const name of ['sdk', 'contracts']) {
      const dist = join(dir, 'project', 'node_modules', '@phudge', name, 'dist');
      const files = (await readdir(dist)).filter((file) => file.endsWith('.js'));
      expect(files.length, name).toBeGreaterThan(0);
      for (const file of files) {
        const code = await readFile(join(dist, file), 'utf8');
        expect(code, `${name}/dist/${file}`).not.toMatch(
          /from '(node:|fs|path|os|http|https|crypto|stream)['/]/,
        );
      }
    }
  });

  it("runs the README's example as written, as plain JavaScript against a fleet", async () => {
    const script = join(dir, 'project', 'grade.mjs');
    await writeFile(script, await readmeExample());
    const { stdout } = await run(process.execPath, [script], { cwd: join(dir, 'project'), env });
    const lines = stdout.trim().split('\n');
    expect(lines).toContain('2/2');
    expect(lines.find((line) => line.endsWith(' completed'))).toBeDefined();
    // One line per result: its id (line-1, line-2 for items without one) and a score from 1 to 5.
    const scored = lines.filter((line) => /^line-\d+ [1-5](\.\d+)?$/.test(line));
    expect(scored).toHaveLength(2);
    expect(lines).toContain('cancel: completed');
    expect(lines.at(-1)).toBe('graded 1');
  });

  it('type-checks a TypeScript user (moduleResolution nodenext, no Node types) whose run reads its results', async () => {
    const project = join(dir, 'project');
    await writeFile(join(project, 'user.mts'), typescriptUser(fleet.apiUrl, fleet.token));
    // DOM's lib, not @types/node: the SDK's declarations need only what fetch needs.
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        lib: ['ES2023', 'DOM'],
        types: [],
        strict: true,
        skipLibCheck: true,
        outDir: 'out',
      },
      files: ['user.mts'],
    };
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project });
    const { stdout } = await run(process.execPath, [join(project, 'out', 'user.mjs')], { cwd: project, env });
    const outcome = JSON.parse(stdout);
    expect(outcome.state).toBe('completed');
    expect(outcome.scores).toHaveLength(1);
    expect(outcome.notFound).toBe(404);
  });
});
