import { join } from 'node:path';
import { MODELS_DIR } from '../../../test/support/paths.js';
import { Engine, loadBundle } from '../src/index.js';

/** The engine thread over a committed tiny judge, on one CPU thread. */
export async function startTinyEngine(name = 'tiny-judge'): Promise<Engine> {
  const bundle = await loadBundle(join(MODELS_DIR, name));
  return Engine.start({
    modelPath: bundle.modelPath,
    device: { kind: 'cpu' },
    threads: 1,
    inputIds: bundle.manifest.inputs.input_ids,
    attentionMask: bundle.manifest.inputs.attention_mask,
    output: bundle.manifest.output,
  });
}
