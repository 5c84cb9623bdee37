import { fileURLToPath } from 'node:url';

/** The repo root; everything a test reads lies under it (nothing beside the repository). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The public judge benchmarks the CLI ships (`phudge eval vicuna|hhh|pandalm`). */
export const BENCHMARKS_DIR = fileURLToPath(new URL('../../services/cli/data/benchmarks/', import.meta.url));
/** The 160 golden PHUDGE prompts (rendered from real Vicuna-bench items) the renderer must reproduce. */
export const GOLDEN_PROMPTS = fileURLToPath(new URL('../fixtures/phudge_prompts.jsonl', import.meta.url));
export const MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));
