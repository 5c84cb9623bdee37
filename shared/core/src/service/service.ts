import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type ServedRoute, servedRoutes } from './http.js';
import { Lifecycle } from './lifecycle.js';

/** What the producer and the worker share: a lifecycle, an HTTP server, and a start that cleans up after itself. */
export abstract class Service {
  readonly lifecycle = new Lifecycle();
  protected app: FastifyInstance | undefined;

  /** The port the HTTP server listens on (useful with PHUDGE_PORT=0). */
  get port(): number {
    return (this.app?.server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Every route the HTTP server serves (empty before start). */
  get routes(): readonly ServedRoute[] {
    return this.app ? servedRoutes(this.app) : [];
  }

  /** Releases everything, each step even if an earlier one fails; `stopped` when it returns. */
  abstract stop(): Promise<void>;

  /** Runs the start-up, then `running`; on failure: `failed`, what was opened is released, the error rethrown. */
  protected async starting(startUp: () => Promise<void>): Promise<void> {
    try {
      await startUp();
      this.lifecycle.to('running');
    } catch (error) {
      this.lifecycle.to('failed');
      await this.stop();
      throw error;
    }
  }
}
