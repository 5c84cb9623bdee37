import { createRequire } from 'node:module';
import { API_SCOPES, SERVICE_ROUTES } from '@phudge/core';
import { z } from 'zod';
import type { ResponseSpec, RouteSpec } from './api.js';
import { serviceStateSchema } from './api-schemas.js';

/** The producer package's version, as the document states it (dist/ sits beside package.json). */
const API_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Routes served without a token: probes, the scrape, and this document. */
const PUBLIC_ROUTES: readonly RouteSpec[] = [
  {
    method: 'GET',
    url: SERVICE_ROUTES.health,
    operationId: 'health',
    summary: 'Liveness: 200 unless the service failed.',
    scopes: [],
    responses: {
      200: { description: 'alive', schema: serviceStateSchema },
      503: { description: 'failed', schema: serviceStateSchema },
    },
  },
  {
    method: 'GET',
    url: SERVICE_ROUTES.ready,
    operationId: 'ready',
    summary: 'Readiness: 503 while starting or stopping.',
    scopes: [],
    responses: {
      200: { description: 'ready', schema: serviceStateSchema },
      503: { description: 'not ready', schema: serviceStateSchema },
    },
  },
  {
    method: 'GET',
    url: SERVICE_ROUTES.metrics,
    operationId: 'metrics',
    summary: 'Prometheus metrics.',
    scopes: [],
    responses: { 200: { description: 'the text exposition format', contentType: 'text/plain' } },
  },
  {
    method: 'GET',
    url: '/openapi.json',
    operationId: 'openapi',
    summary: 'This document.',
    scopes: [],
    responses: { 200: { description: 'OpenAPI 3.1' } },
  },
];

type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12, the dialect of OpenAPI 3.1. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** `/v1/runs/:id` as OpenAPI writes it: `/v1/runs/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function operation(spec: RouteSpec) {
  const parameters = spec.params
    ? Object.entries(spec.params.shape).map(([name, schema]) => ({
        name,
        in: 'path',
        required: true,
        schema: jsonSchema(schema as z.ZodType, 'input'),
        ...(spec.example?.params?.[name] !== undefined ? { example: spec.example.params[name] } : {}),
      }))
    : undefined;
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    // A requirement with scopes: the token needs every one of them. `[]`: no token at all.
    security: spec.scopes.length > 0 ? [{ bearer: [...spec.scopes] }] : [],
    ...(parameters ? { parameters } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: jsonSchema(spec.body, 'input'),
                ...(spec.example?.body !== undefined ? { example: spec.example.body } : {}),
              },
            },
          },
        }
      : {}),
    responses: Object.fromEntries(
      Object.entries(spec.responses).map(([status, response]) => [status, responseObject(response)]),
    ),
  };
}

function responseObject(response: ResponseSpec) {
  return {
    description: response.description,
    content: {
      [response.contentType ?? 'application/json']: response.schema
        ? { schema: jsonSchema(response.schema, 'output') }
        : {},
    },
  };
}

/**
 * The OpenAPI 3.1 document of the producer, built from the route specs the server registers (so
 * from the zod schemas it validates with and the scopes it enforces): it cannot drift.
 */
export function openApiDocument(routes: readonly RouteSpec[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of [...routes, ...PUBLIC_ROUTES]) {
    const path = openApiPath(spec.url);
    paths[path] = { ...paths[path], [spec.method.toLowerCase()]: operation(spec) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'PHUDGE fleet producer API',
      version: API_VERSION,
      description:
        'Grades chatbot responses with the PHUDGE judge. Bearer tokens carry scopes: ' +
        `${API_SCOPES.join(', ')} (docs/security.md).`,
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A token of PHUDGE_API_TOKENS. Scopes: submit (start runs), read (status, summary, results), metrics (queue depth).',
        },
      },
    },
    paths,
  };
}
