import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configEnvironmentVariables } from '@phudge/core';
import { API_ROUTES } from '@phudge/producer';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/paths.js';

describe('README', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

  it('documents every PHUDGE_* variable the config schema reads', () => {
    const missing = configEnvironmentVariables().filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('documents no PHUDGE_* variable the schema does not read', () => {
    const known = new Set(configEnvironmentVariables());
    const documented = [...readme.matchAll(/`(PHUDGE_[A-Z_]+)`/g)].map((match) => match[1] as string);
    expect(documented.filter((name) => !known.has(name))).toEqual([]);
  });

  it('gives each /v1 route the scopes the producer enforces', () => {
    for (const route of Object.values(API_ROUTES)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${route.method} ${route.url}\` `));
      expect(row, `${route.method} ${route.url}`).toBeDefined();
      const scopes = (row as string).split('|')[2]?.trim();
      expect(scopes, `${route.method} ${route.url}`).toBe(
        route.scopes.map((scope) => `\`${scope}\``).join(', '),
      );
    }
  });

  it('has a quick start of exactly two shell lines: grade the examples, then run the tests', () => {
    const quickStart = /## Quick start\s+```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const lines = quickStart.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('phudge grade examples/chatlogs.jsonl');
    expect(lines[1]).toBe('npm test');
  });
});
