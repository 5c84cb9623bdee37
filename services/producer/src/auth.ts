import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type ApiScope,
  type ApiToken,
  type PhudgeConfig,
  parseApiTokens,
  UnrecoverableError,
} from '@phudge/core';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Who made a request: the token's name and scopes, never the token. */
export interface TokenIdentity {
  name: string;
  scopes: readonly ApiScope[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by {@link authenticate} once the bearer token is verified. */
    apiToken?: TokenIdentity;
  }
  interface FastifyContextConfig {
    /** Scopes a token needs for the route, all of them; an authenticated route without it refuses every token. */
    scopes?: readonly ApiScope[];
  }
}

/** The name `PHUDGE_API_METRICS_TOKEN` goes by in logs. */
export const METRICS_TOKEN_NAME = 'metrics';

/**
 * Every token the producer accepts: `PHUDGE_API_TOKENS`, and `PHUDGE_API_METRICS_TOKEN` with
 * the `metrics` scope only.
 * @throws UnrecoverableError when the metrics token clashes with PHUDGE_API_TOKENS (by name or
 *   value); ApiTokensError on a bad entry. No message holds a token.
 */
export function tokensFromConfig(config: Pick<PhudgeConfig, 'api'>): ApiToken[] {
  const tokens = parseApiTokens(config.api.tokens);
  const metrics = config.api.metricsToken.trim();
  if (metrics === '') return tokens;
  if (tokens.some((token) => token.name === METRICS_TOKEN_NAME))
    throw new UnrecoverableError(
      `api.tokens: the name "${METRICS_TOKEN_NAME}" is PHUDGE_API_METRICS_TOKEN's; choose another`,
    );
  if (tokens.some((token) => token.token === metrics))
    throw new UnrecoverableError('api.metricsToken: the metrics token is also in PHUDGE_API_TOKENS');
  return [...tokens, { name: METRICS_TOKEN_NAME, scopes: ['metrics'], token: metrics }];
}

/**
 * Checks bearer tokens in constant time. Each side is reduced to an HMAC under a key of this
 * process, so that every comparison is of 32 bytes, whatever the lengths of the given and the
 * accepted tokens, and every accepted token is compared (no early exit).
 */
export class TokenVerifier {
  private readonly key = randomBytes(32);
  private readonly accepted: { digest: Buffer; identity: TokenIdentity }[];

  constructor(tokens: readonly ApiToken[]) {
    this.accepted = tokens.map(({ name, scopes, token }) => ({
      digest: this.digest(token),
      identity: { name, scopes },
    }));
  }

  /** @returns the identity of the token, or undefined when it is none of the accepted ones. */
  verify(given: string): TokenIdentity | undefined {
    const digest = this.digest(given);
    let found: TokenIdentity | undefined;
    for (const { digest: expected, identity } of this.accepted) {
      if (timingSafeEqual(expected, digest)) found = identity;
    }
    return found;
  }

  private digest(token: string): Buffer {
    return createHmac('sha256', this.key).update(token).digest();
  }
}

/** The identity of the request's `Authorization: Bearer` token, or undefined. */
export function bearerIdentity(verifier: TokenVerifier, request: FastifyRequest): TokenIdentity | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
  return match ? verifier.verify((match[1] as string).trim()) : undefined;
}

/**
 * `onRequest` hook of the authenticated routes: 401 without a valid bearer token, 403 when the
 * token lacks a scope the route needs. An unknown route answers 404 after authentication, so
 * that its existence shows only to token holders.
 */
export function authenticate(verifier: TokenVerifier) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const identity = bearerIdentity(verifier, request);
    if (!identity) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({
        error: 'unauthorized',
        message: 'a valid bearer token is required (Authorization: Bearer <token>)',
      });
    }
    request.apiToken = identity;
    if (request.is404) return;
    const required = request.routeOptions.config.scopes;
    const missing = required ? required.filter((scope) => !identity.scopes.includes(scope)) : ['(none set)'];
    if (missing.length > 0) {
      return reply.code(403).send({
        error: 'forbidden',
        message: `token "${identity.name}" lacks the scope ${missing.join(' and ')} that ${request.method} ${request.routeOptions.url} needs`,
      });
    }
  };
}
