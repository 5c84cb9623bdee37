import { fileURLToPath } from 'node:url';

/** The repository's untrained test judge: the default model, so that a fresh clone grades at once. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/tiny-judge', import.meta.url));

/**
 * The public judge benchmarks (`phudge eval vicuna|hhh|pandalm`), with their source, license and
 * published figures: part of this package (its `files`), so they are there in any clone or install.
 */
export const BENCHMARKS_DIR = fileURLToPath(new URL('../data/benchmarks/', import.meta.url));

/** This command's own entry point, for starting services as child processes. */
export const BIN_PATH = fileURLToPath(new URL('../bin/phudge.js', import.meta.url));
