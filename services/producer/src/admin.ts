import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { escapeHtml } from '@phudge/core';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ADMIN_SESSION_TTL_S, type AdminSessions } from './admin-sessions.js';
import { bearerIdentity, type TokenIdentity, type TokenVerifier } from './auth.js';

/** Where the admin pages are. None is in the OpenAPI document: they are for people, not clients. */
export const ADMIN_PATHS = {
  login: '/admin/login',
  queues: '/admin/queues',
} as const;

/** The cookie a board login sets; its value is an {@link AdminSessions} session, never the token. */
export const ADMIN_COOKIE = 'phudge_admin';

/** What the admin pages need from the producer. */
export interface AdminDeps {
  verifier: TokenVerifier;
  sessions: AdminSessions;
  /** Every BullMQ queue the producer owns, shown on the board. */
  queues: readonly Queue[];
}

/** Methods the board answers; any other is a 405, so the board cannot change a queue. */
const READ_METHODS = ['GET', 'HEAD'];
const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * `/admin/login` (public: a form that takes a `read` token and sets the session cookie) and
 * Bull Board at `/admin/queues`, read-only, for a `read` token as a bearer header or a session.
 */
export function registerAdmin(app: FastifyInstance, deps: AdminDeps): void {
  app.register(
    async (admin) => {
      // The login form posts urlencoded; fastify parses only JSON by itself.
      admin.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: 4096 },
        (_request, body, done) => done(null, new URLSearchParams(body as string)),
      );
      admin.get('/login', async (_request, reply) => loginPage(reply, 200));
      admin.post('/login', async (request, reply) => {
        const token = request.body instanceof URLSearchParams ? (request.body.get('token') ?? '').trim() : '';
        const identity = token === '' ? undefined : deps.verifier.verify(token);
        const status = !identity ? 401 : identity.scopes.includes('read') ? 303 : 403;
        // The token's name only: never the token, nor the session made of it.
        request.log.info({ tokenName: identity?.name ?? null, status }, 'admin login');
        if (!identity) return loginPage(reply, 401, 'That is not a valid token.');
        if (status === 403)
          return loginPage(reply, 403, `The token "${identity.name}" lacks the read scope the board needs.`);
        return reply
          .header('set-cookie', sessionCookie(deps.sessions.issue(token), isHttps(request)))
          .redirect(`${ADMIN_PATHS.queues}/`, 303);
      });

      admin.register(
        async (board) => {
          board.addHook('onRequest', guardBoard(deps));
          // Routes for every write method, so that each reaches the guard (and its 405) rather
          // than a 404; the board's own write routes never run either.
          for (const url of ['/', '/*'])
            board.route({ method: [...WRITE_METHODS], url, handler: notAllowed });
          const adapter = new FastifyAdapter().setBasePath(ADMIN_PATHS.queues);
          createBullBoard({
            queues: deps.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
            serverAdapter: adapter,
            options: { uiConfig: { boardTitle: 'PHUDGE queues' } },
          });
          await board.register(adapter.registerPlugin());
        },
        { prefix: '/queues' },
      );
    },
    { prefix: '/admin' },
  );
}

/**
 * `onRequest` hook of the board: without a valid bearer token or session, a page request is
 * sent to the login form and anything else answers 401; a token without `read` answers 403;
 * a method other than GET or HEAD answers 405.
 */
function guardBoard({ verifier, sessions }: AdminDeps) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const session = cookieValue(request.headers.cookie, ADMIN_COOKIE);
    const identity: TokenIdentity | undefined =
      bearerIdentity(verifier, request) ?? (session ? sessions.verify(session) : undefined);
    if (!identity) {
      if (request.method === 'GET' && (request.headers.accept ?? '').includes('text/html'))
        return reply.redirect(ADMIN_PATHS.login, 303);
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({
          error: 'unauthorized',
          message: `a read token is required (Authorization: Bearer <token>, or log in at ${ADMIN_PATHS.login})`,
        });
    }
    request.apiToken = identity;
    if (!identity.scopes.includes('read')) {
      return reply.code(403).send({
        error: 'forbidden',
        message: `token "${identity.name}" lacks the scope read that the board needs`,
      });
    }
    if (!READ_METHODS.includes(request.method)) return notAllowed(request, reply);
  };
}

function notAllowed(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .code(405)
    .header('allow', READ_METHODS.join(', '))
    .send({ error: 'method_not_allowed', message: 'the board is read-only' });
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page
 * sends it, so no cross-site request forgery), only under /admin, and Secure when the login came
 * over HTTPS (directly, or through a proxy saying so: the flag only narrows where it is sent).
 */
function sessionCookie(value: string, secure: boolean): string {
  const attributes = ['HttpOnly', 'SameSite=Strict', 'Path=/admin', `Max-Age=${ADMIN_SESSION_TTL_S}`];
  return [`${ADMIN_COOKIE}=${value}`, ...attributes, ...(secure ? ['Secure'] : [])].join('; ');
}

function isHttps(request: FastifyRequest): boolean {
  return request.protocol === 'https' || request.headers['x-forwarded-proto'] === 'https';
}

function loginPage(reply: FastifyReply, status: number, message?: string): FastifyReply {
  const notice = message ? `<p role="alert">${escapeHtml(message)}</p>` : '';
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    .header('cache-control', 'no-store')
    .send(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>PHUDGE queues: log in</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:4rem auto}input{width:100%;padding:.4rem}button{margin-top:.8rem;padding:.4rem 1rem}</style>
</head>
<body>
<h1>PHUDGE queues</h1>
${notice}
<form method="post" action="${ADMIN_PATHS.login}">
<label for="token">An API token with the read scope</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
<button type="submit">Log in</button>
</form>
</body>
</html>
`);
}
