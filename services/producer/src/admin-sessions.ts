import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ApiToken } from '@phudge/core';
import type { TokenIdentity } from './auth.js';

/** How long a board login lasts: a working day. */
export const ADMIN_SESSION_TTL_S = 8 * 3600;

const VERSION = 'v1';
const DIGEST_BYTES = 32;

/**
 * The cookie value of a board login: `v1.<expiry, Unix seconds>.<HMAC-SHA256 of the expiry
 * under the token>`. It is not the token and does not reveal it, it expires, it stops working
 * when its token leaves PHUDGE_API_TOKENS, and every replica (and a restarted producer) accepts
 * it, since it is derived from the token alone, with no key of a process.
 */
export class AdminSessions {
  constructor(
    private readonly tokens: readonly ApiToken[],
    private readonly now: () => number = Date.now,
  ) {}

  /** A session for `token`, which the caller has verified. */
  issue(token: string): string {
    const expires = Math.floor(this.now() / 1000) + ADMIN_SESSION_TTL_S;
    return `${VERSION}.${expires}.${digest(token, expires).toString('base64url')}`;
  }

  /**
   * @returns the identity of the token a live session was issued for, or undefined. Every
   *   accepted token is compared, in constant time (no early exit on a match).
   */
  verify(value: string): TokenIdentity | undefined {
    const match = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!match) return undefined;
    const expires = Number(match[1]);
    if (expires * 1000 <= this.now()) return undefined;
    const given = Buffer.from(match[2] as string, 'base64url');
    if (given.length !== DIGEST_BYTES) return undefined;
    let found: TokenIdentity | undefined;
    for (const { name, scopes, token } of this.tokens) {
      if (timingSafeEqual(digest(token, expires), given)) found = { name, scopes };
    }
    return found;
  }
}

function digest(token: string, expires: number): Buffer {
  return createHmac('sha256', token).update(`phudge-admin-session\0${expires}`).digest();
}
