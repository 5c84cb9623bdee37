// Benchmark workloads built from the public judge benchmarks in ../shared/data (read, never copied).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePrometheusAbsolute } from '@phudge/core';

export const SHARED_DATA = fileURLToPath(new URL('../../shared/data/', import.meta.url));

/** Vicuna-bench items as grading requests (instruction, response, reference, rubric). */
export function vicunaRequests() {
  const rows = JSON.parse(readFileSync(`${SHARED_DATA}vicuna_eval.json`, 'utf8'));
  return rows.map((row, i) => {
    const fields = parsePrometheusAbsolute(row.instruction);
    if (!fields) throw new Error(`vicuna row ${i} is not a Prometheus prompt`);
    return { id: `vicuna-${row.idx ?? i}-${i}`, ...fields, metadata: { category: row.category } };
  });
}

export function toJsonl(requests) {
  return `${requests.map((r) => JSON.stringify(r)).join('\n')}\n`;
}
