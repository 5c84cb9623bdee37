import { join } from 'node:path';
import { MODELS_DIR } from '../../../test/support/paths.js';
import { Engine, engineOptions, loadBundle } from '../src/index.js';

/** The engine thread over a committed tiny judge, on one CPU thread. */
export async function startTinyEngine(name = 'tiny-judge'): Promise<Engine> {
  return Engine.start(engineOptions(await loadBundle(join(MODELS_DIR, name)), { kind: 'cpu' }, 1));
}
