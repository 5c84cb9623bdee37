import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseJsonl, parsePrometheusAbsolute, UnrecoverableError } from '@phudge/core';
import { BENCHMARKS_DIR } from '../paths.js';

/** A label: a score for absolute grading, or which of two responses is better. */
export type Label = { score: number } | { winner: 'A' | 'B' | 'tie' };

export interface EvalItem {
  /** A grading request (the input contract) without its label. */
  request: Record<string, unknown>;
  label: Label;
}

/** A published figure to print beside the measured ones. */
export interface Published {
  evaluator: string;
  metric: 'pearson' | 'accuracy';
  value: number;
}

export interface Benchmark {
  name: string;
  kind: 'absolute' | 'pairwise';
  items: EvalItem[];
  /** How ties count in accuracy, stated in the report. */
  tieRule?: string;
  published: Published[];
  source: string;
}

// Published figures (PHUDGE paper, arXiv 2405.08029, Tables 2-4; data/benchmarks/README.md).
const PUBLISHED: Record<string, Published[]> = {
  vicuna: [
    { evaluator: 'PHUDGE (published)', metric: 'pearson', value: 0.41 },
    { evaluator: 'Prometheus-2 8x7B (published)', metric: 'pearson', value: 0.68 },
  ],
  hhh: [
    { evaluator: 'PHUDGE (published)', metric: 'accuracy', value: 0.83 },
    { evaluator: 'Prometheus-2 8x7B (published)', metric: 'accuracy', value: 0.85 },
  ],
  pandalm: [
    { evaluator: 'PHUDGE (published)', metric: 'accuracy', value: 0.68 },
    { evaluator: 'Prometheus 13B (published)', metric: 'accuracy', value: 0.68 },
  ],
};

function readJson(path: string): unknown[] {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UnrecoverableError(`cannot read benchmark ${path}: ${(error as Error).message}`);
  }
}

function fields(prompt: string, where: string) {
  const parsed = parsePrometheusAbsolute(prompt);
  if (!parsed) throw new UnrecoverableError(`${where} is not a Prometheus prompt`);
  return parsed;
}

/** Vicuna bench: absolute scores against the mean of the three GPT-4 scores. */
function vicuna(path: string): Benchmark {
  const rows = readJson(path) as { instruction: string; gpt4_score: unknown; category?: string }[];
  const items = rows.map((row, i): EvalItem => {
    const scores = (
      typeof row.gpt4_score === 'string' ? JSON.parse(row.gpt4_score) : row.gpt4_score
    ) as number[];
    return {
      request: {
        id: `vicuna-${i}`,
        ...fields(row.instruction, `vicuna row ${i}`),
        metadata: { category: row.category },
      },
      label: { score: scores.reduce((a, b) => a + b, 0) / scores.length },
    };
  });
  return { name: 'vicuna', kind: 'absolute', items, published: PUBLISHED.vicuna ?? [], source: path };
}

/** HHH alignment: the chosen response should score above the rejected one. */
function hhh(path: string): Benchmark {
  const rows = readJson(path) as { chosen_instruction: string; rejected_instruction: string }[];
  const items = rows.map((row, i): EvalItem => {
    const chosen = fields(row.chosen_instruction, `hhh row ${i}`);
    const rejected = fields(row.rejected_instruction, `hhh row ${i}`);
    return {
      request: {
        id: `hhh-${i}`,
        instruction: chosen.instruction,
        responses: [chosen.response, rejected.response],
        rubric: chosen.rubric,
      },
      label: { winner: 'A' },
    };
  });
  return {
    name: 'hhh',
    kind: 'pairwise',
    items,
    tieRule: 'correct when score(chosen) > score(rejected); a tie counts as wrong',
    published: PUBLISHED.hhh ?? [],
    source: path,
  };
}

/** PandaLM: pairwise against the annotators' majority (0 = tie, 1 = first, 2 = second). */
function pandalm(path: string): Benchmark {
  const rows = readJson(path) as Record<string, unknown>[];
  const items = rows.map((row, i): EvalItem => {
    const votes = [row.annotator1, row.annotator2, row.annotator3] as number[];
    const majority = [0, 1, 2].find((choice) => votes.filter((v) => v === choice).length >= 2) ?? 0;
    const instruction = row.input ? `${row.instruction}\n\n${row.input}` : String(row.instruction);
    return {
      request: { id: `pandalm-${i}`, instruction, responses: [String(row.response1), String(row.response2)] },
      label: { winner: (['tie', 'A', 'B'] as const)[majority] as 'A' | 'B' | 'tie' },
    };
  });
  return {
    name: 'pandalm',
    kind: 'pairwise',
    items,
    tieRule:
      "3-way accuracy: the judge's A, B or tie (scores within the tie margin) against the annotators' majority; no majority counts as a tie",
    published: PUBLISHED.pandalm ?? [],
    source: path,
  };
}

/** A labelled JSONL of grading requests: `label` (a score) or `winner` (A, B, tie) on each line. */
function labelledFile(path: string): Benchmark {
  let rows: Record<string, unknown>[];
  try {
    rows = parseJsonl(readFileSync(path)) as Record<string, unknown>[];
  } catch (error) {
    throw new UnrecoverableError(`cannot read labelled file ${path}: ${(error as Error).message}`);
  }
  const items = rows.map((row, i): EvalItem => {
    const { label, winner, ...request } = row;
    if (typeof label === 'number') return { request, label: { score: label } };
    if (winner === 'A' || winner === 'B' || winner === 'tie') return { request, label: { winner } };
    throw new UnrecoverableError(`${path} line ${i + 1}: needs a numeric label or a winner (A, B or tie)`);
  });
  const kinds = new Set(items.map((item) => ('score' in item.label ? 'absolute' : 'pairwise')));
  if (kinds.size > 1)
    throw new UnrecoverableError(`${path}: mixes score labels and winners; use one kind per file`);
  const kind = kinds.has('pairwise') ? 'pairwise' : 'absolute';
  return {
    name: basename(path),
    kind,
    items,
    ...(kind === 'pairwise' ? { tieRule: "3-way accuracy: the judge's A, B or tie against the label" } : {}),
    published: [],
    source: path,
  };
}

/** `vicuna`, `hhh`, `pandalm` (shipped in data/benchmarks), one of their JSON files, or a labelled JSONL. */
export function loadBenchmark(spec: string): Benchmark {
  const loaders: Record<string, [(path: string) => Benchmark, string]> = {
    vicuna: [vicuna, 'vicuna_eval.json'],
    hhh: [hhh, 'hhh_alignment_eval.json'],
    pandalm: [pandalm, 'pandalm_testset-v1.json'],
  };
  const named = loaders[spec];
  if (named) return named[0](join(BENCHMARKS_DIR, named[1]));
  const byFile = Object.values(loaders).find(([, file]) => basename(spec) === file);
  if (byFile) return byFile[0](spec);
  return labelledFile(spec);
}
