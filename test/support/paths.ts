import { fileURLToPath } from 'node:url';

/** The repo root, and the team's reference folder beside it (benchmarks, golden files). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED_DIR = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));
