import type { Logger } from 'pino';

/** A resource to release on shutdown, by name; `undefined` when it was never opened. */
export type Closer = readonly [name: string, close: (() => Promise<unknown>) | undefined];

/** Closes each resource in order; one that fails is logged and the rest are still closed. */
export async function closeEach(closers: readonly Closer[], logger: Logger): Promise<void> {
  for (const [name, close] of closers) {
    try {
      await close?.();
    } catch (error) {
      logger.warn({ err: error, step: name }, 'error while stopping');
    }
  }
}
