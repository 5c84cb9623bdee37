import { randomBytes } from 'node:crypto';
import { ADMIN_COOKIE, ADMIN_SESSION_TTL_S, AdminSessions } from '@phudge/producer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.js';
import { makeItems, TestFleet } from '../support/fleet.js';
import { chromium as chromiumPrerequisite, findOrSkip } from '../support/prerequisites.js';

const chromiumPath = findOrSkip(chromiumPrerequisite());

const TOKENS = {
  reader: randomBytes(12).toString('hex'),
  submitter: randomBytes(12).toString('hex'),
  metrics: randomBytes(12).toString('hex'),
};
/** The run's chunks wait on the queue: no worker is started, so the board's counts hold still. */
const CHUNKS = 3;
const BOARD_API = '/admin/queues/api/queues';

type BoardQueues = { queues: { name: string; isPaused: boolean; counts: Record<string, number> }[] };

describe('Bull Board at /admin/queues', () => {
  let fleet: TestFleet;
  beforeAll(async () => {
    fleet = await TestFleet.start({
      PHUDGE_API_TOKENS: `reader:read:${TOKENS.reader},submitter:submit:${TOKENS.submitter}`,
      PHUDGE_API_METRICS_TOKEN: TOKENS.metrics,
    });
    await fleet.client.submitRun({ items: makeItems(CHUNKS * 2) }, { runId: 'board-run', chunkSize: 2 });
    // Ingestion runs in the background: wait until every chunk is on the queue.
    const queued = async () =>
      ((await (await get('/v1/queue', bearer(fleet.token))).json()) as { pending: number }).pending;
    while ((await queued()) !== CHUNKS) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(() => fleet?.close());

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${fleet.apiUrl}${path}`, { headers, redirect: 'manual' });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const login = (token: string) =>
    fetch(`${fleet.apiUrl}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ token }),
      redirect: 'manual',
    });
  async function boardQueues(): Promise<BoardQueues> {
    const response = await get(BOARD_API, bearer(TOKENS.reader));
    expect(response.status).toBe(200);
    return (await response.json()) as BoardQueues;
  }

  it('answers 401 without a token or session, and sends a page request to the login form', async () => {
    expect((await get(BOARD_API)).status).toBe(401);
    const page = await get('/admin/queues/', { accept: 'text/html' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/admin/login');
    // A session of the right shape that no token made.
    const forged = `v1.${Math.floor(Date.now() / 1000) + 60}.${randomBytes(32).toString('base64url')}`;
    expect((await get(BOARD_API, { cookie: `${ADMIN_COOKIE}=${forged}` })).status).toBe(401);
    // The token itself is no session.
    expect((await get(BOARD_API, { cookie: `${ADMIN_COOKIE}=${TOKENS.reader}` })).status).toBe(401);
  });

  it('refuses a token without the read scope with 403, as a bearer header and at the login form', async () => {
    for (const token of [TOKENS.submitter, TOKENS.metrics]) {
      expect((await get(BOARD_API, bearer(token))).status).toBe(403);
      const refused = await login(token);
      expect(refused.status).toBe(403);
      expect(refused.headers.get('set-cookie')).toBeNull();
    }
    const wrong = await login('not-a-token');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('logs a read token in with an HttpOnly, SameSite=Strict session under /admin, not the token', async () => {
    const response = await login(TOKENS.reader);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/admin/queues/');
    const cookie = response.headers.get('set-cookie') ?? '';
    const [pair, ...attributes] = cookie.split('; ');
    expect(attributes).toEqual([
      'HttpOnly',
      'SameSite=Strict',
      'Path=/admin',
      `Max-Age=${ADMIN_SESSION_TTL_S}`,
    ]);
    expect(pair).toMatch(new RegExp(`^${ADMIN_COOKIE}=v1\\.`));
    expect(cookie).not.toContain(TOKENS.reader);
    expect((await get(BOARD_API, { cookie: pair as string })).status).toBe(200);
  });

  it('answers 405 to every method but GET and HEAD, and the queues stay as they were', async () => {
    const writes: [string, string][] = [
      ['POST', '/admin/queues'],
      ['PUT', '/admin/queues/api/queues/phudge-chunks/pause'],
      ['PUT', '/admin/queues/api/queues/phudge-chunks/empty'],
      ['DELETE', '/admin/queues/api/queues/phudge-chunks/obliterate'],
      ['PATCH', '/admin/queues/anything'],
    ];
    for (const [method, path] of writes) {
      const response = await fetch(`${fleet.apiUrl}${path}`, { method, headers: bearer(TOKENS.reader) });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
    }
    const chunks = (await boardQueues()).queues.find((q) => q.name === 'phudge-chunks');
    expect(chunks?.isPaused).toBe(false);
    // Batch chunks carry priorities: BullMQ counts them as prioritized, not waiting.
    expect((chunks?.counts.waiting ?? 0) + (chunks?.counts.prioritized ?? 0)).toBe(CHUNKS);
  });

  it('is left out of the OpenAPI document', async () => {
    const document = (await (await get('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/admin'))).toEqual([]);
  });

  it('refuses a session once it expires, or once its token is no longer accepted', () => {
    let now = Date.UTC(2026, 11, 1);
    const token = { name: 'reader', scopes: ['read'] as const, token: TOKENS.reader };
    const sessions = new AdminSessions([token], () => now);
    const session = sessions.issue(TOKENS.reader);
    now += ADMIN_SESSION_TTL_S * 1000 - 1;
    expect(sessions.verify(session)).toEqual({ name: 'reader', scopes: ['read'] });
    expect(
      new AdminSessions([{ ...token, token: TOKENS.submitter }], () => now).verify(session),
    ).toBeUndefined();
    now += 1;
    expect(sessions.verify(session)).toBeUndefined();
  });

  describe.skipIf(!chromiumPath)('in headless Chromium', () => {
    it('sends the page to the login form, refuses a submit token, and after a read token lists the chunk, results and webhooks queues with their counts', async () => {
      const browser = await launchChromium(chromiumPath);
      try {
        const context = await browser.newContext();
        const tab = await context.newPage();
        const problems: string[] = [];
        tab.on('pageerror', (error) => problems.push(error.message));
        // The board asks Google for its fonts: nothing outside the fleet is fetched in a test.
        await tab.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
        tab.on('requestfailed', (request) => {
          if (request.url().startsWith(fleet.apiUrl)) problems.push(`request failed: ${request.url()}`);
        });

        await tab.goto(`${fleet.apiUrl}/admin/queues/`);
        expect(new URL(tab.url()).pathname).toBe('/admin/login');

        await tab.fill('#token', TOKENS.submitter);
        const refused = tab.waitForResponse((r) => r.url().endsWith('/admin/login'));
        await tab.click('button[type=submit]');
        expect((await refused).status()).toBe(403);
        expect(await tab.locator('[role=alert]').textContent()).toContain('lacks the read scope');
        expect(await context.cookies()).toEqual([]);

        await tab.fill('#token', TOKENS.reader);
        await Promise.all([
          tab.waitForURL(`${fleet.apiUrl}/admin/queues/`),
          tab.click('button[type=submit]'),
        ]);
        const [cookie] = await context.cookies();
        expect(cookie).toMatchObject({
          name: ADMIN_COOKIE,
          path: '/admin',
          httpOnly: true,
          sameSite: 'Strict',
        });
        expect(cookie?.value).not.toContain(TOKENS.reader);

        const counts = Object.fromEntries(
          (await boardQueues()).queues.map((q) => [
            q.name,
            Object.values(q.counts).reduce((a, b) => a + b, 0),
          ]),
        );
        expect(counts['phudge-chunks']).toBe(CHUNKS);
        for (const [name, total] of Object.entries(counts)) {
          const card = tab.locator('main li', { has: tab.locator(`a[title="${name}"]`) });
          await card.filter({ hasText: `${total} Job${total === 1 ? '' : 's'}` }).waitFor();
        }
        expect(Object.keys(counts).sort()).toEqual(['phudge-chunks', 'phudge-results', 'phudge-webhooks']);

        // The page's own requests carry the session; a write among them is refused.
        const status = await tab.evaluate(
          async (url) => (await fetch(url, { method: 'PUT' })).status,
          '/admin/queues/api/queues/phudge-chunks/pause',
        );
        expect(status).toBe(405);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  });
});
