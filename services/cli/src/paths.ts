import { fileURLToPath } from 'node:url';

/** The repository's untrained test judge: the default model, so that a fresh clone grades at once. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/tiny-judge', import.meta.url));
