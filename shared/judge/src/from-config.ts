import type { PhudgeConfig } from '@phudge/core';
import { Judge, type JudgeOptions } from './judge.js';
import { defaultModelCache, resolveModel } from './model-cache.js';

/**
 * A judge set up from the PHUDGE_* configuration: the bundle resolved (an s3:// bundle is
 * downloaded once into the model cache), device, threads, batching and tie margin from config.
 * @param extra per-caller options (rubric, mode, callbacks), applied last.
 */
export async function openConfiguredJudge(
  config: PhudgeConfig,
  model: string,
  extra: Omit<JudgeOptions, 'model'> = {},
): Promise<Judge> {
  return Judge.open({
    model: await resolveModel(model, config.modelCache || defaultModelCache(), config.s3),
    device: config.device,
    threads: config.engine.threads,
    maxBatchTokens: config.engine.maxBatchTokens,
    maxBatchSize: config.engine.maxBatchSize,
    window: config.engine.window,
    tieMargin: config.grading.tieMargin,
    ...extra,
  });
}
