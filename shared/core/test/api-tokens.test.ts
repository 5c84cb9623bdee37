import { describe, expect, it } from 'vitest';
import { API_SCOPES, ApiTokensError, loadConfig, parseApiTokens } from '../src/index.js';

describe('PHUDGE_API_TOKENS', () => {
  it('gives plain comma-separated tokens every scope, as before scopes existed', () => {
    expect(parseApiTokens('alpha, beta')).toEqual([
      { name: 'token-1', scopes: API_SCOPES, token: 'alpha' },
      { name: 'token-2', scopes: API_SCOPES, token: 'beta' },
    ]);
  });

  it('reads name:scope+scope:token entries, separated by commas or newlines', () => {
    expect(parseApiTokens('ci:submit+read:c1:with:colons\nkeda:metrics:k1,legacy')).toEqual([
      { name: 'ci', scopes: ['submit', 'read'], token: 'c1:with:colons' },
      { name: 'keda', scopes: ['metrics'], token: 'k1' },
      { name: 'token-3', scopes: API_SCOPES, token: 'legacy' },
    ]);
  });

  it.each([
    ['ci:sumbit:s3cr3t-value', /entry 1: scopes are/],
    ['ci:s3cr3t-value', /entry 1: expected name:scope\+scope:token/],
    ['bad name:read:s3cr3t-value', /entry 1: a name/],
    ['ci:read:', /entry 1: the token is empty/],
    ['a:read:s3cr3t-value,a:submit:other', /the name "a" is taken/],
    ['x:read:s3cr3t-value,y:submit:s3cr3t-value', /the same token appears twice/],
  ])('refuses %s without echoing the token', (value, message) => {
    let error: unknown;
    try {
      parseApiTokens(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiTokensError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('s3cr3t');
  });

  it('fails config validation at start-up naming the key, and never showing the value', () => {
    let message = '';
    try {
      loadConfig({}, { PHUDGE_API_TOKENS: 'ci:sumbit:s3cr3t-value' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('api.tokens');
    expect(message).not.toContain('s3cr3t');
  });
});
