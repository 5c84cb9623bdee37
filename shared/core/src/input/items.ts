import type { ItemOptions, RubricSpec } from '@phudge/contracts';
import type { ChunkEntry } from '../queue/contracts.js';
import { resolveRubric } from '../rubrics/render.js';
import {
  declaredId,
  type GradingRequest,
  parseGradingRequest,
  type RequestDefaults,
} from '../schemas/input.js';
import { toErrorRecord } from '../schemas/result.js';
import type { InputRecord } from './formats.js';
import { compileMapping, UnmappedFieldError } from './mapping.js';

/** `rubric` and `rubrics` together are ambiguous: which one would an item without a rubric get? */
export class ConflictingRubricsError extends Error {
  override readonly name = 'ConflictingRubricsError';
  constructor() {
    super('give either rubric or rubrics, not both');
  }
}

/**
 * The one step from a raw record to what the judge grades: mapping (preset, map), validation
 * and alias resolution, one entry per rubric. A bad record becomes error entries naming its
 * source and line, never an exception: the run goes on.
 */
export class ItemBuilder {
  private readonly map;
  /** The run's rubrics, each with the defaults its entries are parsed with (absent: one entry). */
  private readonly rubrics: { spec: RubricSpec; label: string; defaults: RequestDefaults }[] | undefined;
  /** What a record is parsed with when the run names no rubrics: built once, not per record. */
  private readonly defaults: RequestDefaults;

  /** @throws InvalidMappingError for a map expression that does not parse; ConflictingRubricsError */
  constructor(options: ItemOptions = {}) {
    if (options.rubric !== undefined && options.rubrics !== undefined) throw new ConflictingRubricsError();
    this.map = compileMapping(options.preset, options.map);
    const defaults = (rubric: RubricSpec | undefined): RequestDefaults => ({
      ...(rubric !== undefined ? { rubric } : {}),
      ...(options.mode ? { mode: options.mode } : {}),
    });
    this.rubrics = options.rubrics?.map((spec) => ({
      spec,
      label: resolveRubric(spec).label,
      defaults: defaults(spec),
    }));
    this.defaults = defaults(options.rubric);
  }

  /** How many entries every record becomes. */
  get perRecord(): number {
    return this.rubrics?.length ?? 1;
  }

  /** The entries of one record: one per rubric of the run (one when it names none). */
  entries(record: InputRecord): ChunkEntry[] {
    const { source, line } = record;
    let id: string | undefined;
    try {
      if ('error' in record) throw record.error;
      id = declaredId(record.value);
      const mapped = this.map(record.value);
      id = declaredId(mapped);
      const entry = (request: GradingRequest): ChunkEntry =>
        source !== undefined ? { source, line, request } : { line, request };
      if (!this.rubrics) return [entry(parseGradingRequest(mapped, line, this.defaults))];
      return this.rubrics.map(({ spec, defaults }) => {
        // The run's rubric replaces the item's own; a value that is not an object fails validation as it is.
        const value = isObject(mapped) ? { ...mapped, rubric: spec } : mapped;
        return entry(parseGradingRequest(value, line, defaults));
      });
    } catch (error) {
      if (error instanceof UnmappedFieldError) id = error.id;
      const record = toErrorRecord(line, error, id, source);
      return this.rubrics ? this.rubrics.map(({ label }) => ({ ...record, rubric: label })) : [record];
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
