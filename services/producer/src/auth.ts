import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Bearer-token check for every /v1 route. Tokens are compared in constant time and never logged.
 * @param tokens the accepted tokens (PHUDGE_API_TOKENS, comma-separated).
 */
export function bearerAuth(tokens: readonly string[]) {
  const accepted = tokens.map((token) => Buffer.from(token));
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const given = match ? Buffer.from((match[1] as string).trim()) : undefined;
    const ok =
      given !== undefined &&
      accepted.some((token) => token.length === given.length && timingSafeEqual(token, given));
    if (!ok) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({
        error: 'unauthorized',
        message: 'a valid bearer token is required (Authorization: Bearer <token>)',
      });
    }
  };
}

/** PHUDGE_API_TOKENS as a list; empty entries dropped. */
export function parseTokens(value: string): string[] {
  return value
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '');
}
