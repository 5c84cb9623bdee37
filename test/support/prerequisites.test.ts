import { afterEach, describe, expect, it, vi } from 'vitest';
import { chromium, exportPython, findOrSkip, MissingPrerequisiteError, underCi } from './prerequisites.js';

describe('test prerequisites npm cannot install', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('skip with one line naming what is missing and the command that installs it', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(findOrSkip(chromium({ CHROMIUM_PATH: '/nonexistent/chromium' }), {})).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
    const line = String(warn.mock.calls[0]?.[0]);
    expect(line).not.toContain('\n');
    expect(line).toContain('/nonexistent/chromium');
    expect(line).toContain('install it with: apt-get install -y chromium');
  });

  it('fail instead of skipping under CI=true, so CI always runs their tests', () => {
    const missing = exportPython({ PHUDGE_EXPORT_PYTHON: '/nonexistent/python' });
    expect(missing.found).toBeUndefined();
    expect(() => findOrSkip(missing, { CI: 'true' })).toThrow(MissingPrerequisiteError);
    expect(() => findOrSkip(missing, { CI: 'true' })).toThrow(
      /install it with: bash models\/export\/setup\.sh/,
    );
  });

  it('are returned where they are found, CI or not', () => {
    const present = chromium({ CHROMIUM_PATH: process.execPath });
    expect(findOrSkip(present, { CI: 'true' })).toBe(process.execPath);
  });

  it('read CI as CI services set it', () => {
    expect([undefined, '', '0', 'false', 'FALSE'].map((CI) => underCi({ CI }))).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(['true', '1', 'yes'].map((CI) => underCi({ CI }))).toEqual([true, true, true]);
  });
});
