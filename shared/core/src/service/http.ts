import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Lifecycle } from './lifecycle.js';

/** Routes every service serves, for probes and scrapers (the Helm chart checks against these). */
export const SERVICE_ROUTES = { health: '/healthz', ready: '/readyz', metrics: '/metrics' } as const;

/** A route a server serves, as fastify registered it (HEAD routes included). */
export interface ServedRoute {
  method: string;
  url: string;
}

const routesOf = new WeakMap<FastifyInstance, ServedRoute[]>();

/** Every route registered on a server made by {@link createServiceServer}, so far. */
export function servedRoutes(app: FastifyInstance): readonly ServedRoute[] {
  return routesOf.get(app) ?? [];
}

export interface ServiceServerOptions {
  lifecycle: Lifecycle;
  metrics: Registry;
  logger: Logger;
  /** Largest request body, in bytes. @defaultValue 1 MiB */
  bodyLimit?: number;
}

/**
 * A fastify server with the routes every service has: `/healthz` (alive), `/readyz` (ready for
 * work: 503 while starting, warming or draining) and `/metrics` (Prometheus).
 */
export function createServiceServer(options: ServiceServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Probes and scrapes arrive every few seconds: a log line per request would drown the rest.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Unique across replicas and restarts, unlike fastify's counter: a client quotes it from an error.
    genReqId: () => randomUUID(),
  });
  // Every answer names its request, so that an error a client reports can be found in the logs.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const routes: ServedRoute[] = [];
  routesOf.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  const { lifecycle, metrics } = options;
  app.get(SERVICE_ROUTES.health, async (_, reply) =>
    reply.code(lifecycle.healthy ? 200 : 503).send({ state: lifecycle.state }),
  );
  app.get(SERVICE_ROUTES.ready, async (_, reply) =>
    reply.code(lifecycle.ready ? 200 : 503).send({ state: lifecycle.state }),
  );
  app.get(SERVICE_ROUTES.metrics, async (_, reply) =>
    reply.header('content-type', metrics.contentType).send(await metrics.metrics()),
  );
  return app;
}
