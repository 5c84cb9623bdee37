import { existsSync, readFileSync } from 'node:fs';
import {
  ConflictingRubricsError,
  type FieldMap,
  fieldMapSchema,
  type GradingMode,
  InvalidMappingError,
  ItemBuilder,
  type ItemOptions,
  PRESETS,
  type PresetName,
  parseMapFlag,
  presetNameSchema,
  type RubricSpec,
  rubricSpecSchema,
  UnrecoverableError,
} from '@phudge/core';
import { UsageError } from './usage.js';

/**
 * The flags that say how records become items, shared by `phudge grade` (which applies them) and
 * `phudge submit` (which sends them as the run's options): one parser, one set of messages.
 */
export const ITEM_FLAGS = {
  rubric: { type: 'string' },
  rubrics: { type: 'string' },
  preset: { type: 'string' },
  map: { type: 'string', multiple: true },
  mode: { type: 'string' },
} as const;

export const ITEM_FLAGS_USAGE = `  --rubric NAME|TEXT|FILE   rubric for items without one: a library name (helpfulness, ...),
                            a criterion, or a file holding either or a JSON rubric object
  --rubrics A,B,...         grade every item once per rubric (names, criteria or files)
  --preset NAME             field mapping of a common log shape: ${Object.keys(PRESETS).join(', ')}
  --map FIELD=EXPR          map a request field from the log's own schema with a JMESPath
                            expression (repeatable; FIELD: id, instruction, response, responses,
                            reference, rubric, messages, context, metadata or metadata.NAME)
  --mode absolute|relative  require one response (absolute) or two (relative) per item`;

/** What parseArgs gives for {@link ITEM_FLAGS}. */
export interface ItemFlagValues {
  rubric?: string;
  rubrics?: string;
  preset?: string;
  map?: string[];
  mode?: string;
}

/**
 * The item options the flags name, checked now: a map expression that does not parse, or
 * --rubric with --rubrics, is a usage error before any work.
 * @throws UsageError
 */
export function itemOptionsFromFlags(values: ItemFlagValues, usage: string): ItemOptions {
  const mode = parseMode(values.mode, usage);
  const preset = parsePreset(values.preset, usage);
  const map = parseMap(values.map, usage);
  const options: ItemOptions = {
    ...(values.rubric !== undefined ? { rubric: readRubricFlag(values.rubric) } : {}),
    ...(values.rubrics !== undefined
      ? { rubrics: values.rubrics.split(',').map((rubric) => readRubricFlag(rubric.trim())) }
      : {}),
    ...(mode ? { mode } : {}),
    ...(preset ? { preset } : {}),
    ...(map ? { map } : {}),
  };
  try {
    new ItemBuilder(options);
  } catch (error) {
    if (error instanceof InvalidMappingError || error instanceof ConflictingRubricsError)
      throw new UsageError(error.message, usage);
    throw error;
  }
  return options;
}

function parsePreset(value: string | undefined, usage: string): PresetName | undefined {
  if (value === undefined) return undefined;
  const parsed = presetNameSchema.safeParse(value);
  if (!parsed.success)
    throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, not "${value}"`, usage);
  return parsed.data;
}

function parseMap(flags: string[] | undefined, usage: string): FieldMap | undefined {
  if (!flags?.length) return undefined;
  let map: Record<string, string>;
  try {
    map = Object.fromEntries(flags.map(parseMapFlag));
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
  const parsed = fieldMapSchema.safeParse(map);
  if (!parsed.success) throw new UsageError(`--map: ${parsed.error.issues[0]?.message}`, usage);
  return parsed.data;
}

function parseMode(value: string | undefined, usage: string): GradingMode | undefined {
  if (value === undefined) return undefined;
  if (value === 'absolute' || value === 'relative') return value;
  throw new UsageError(`--mode must be absolute or relative, not "${value}"`, usage);
}

/** A file path (holding a name, a criterion, or a JSON rubric object), else the text itself. */
function readRubricFlag(value: string): RubricSpec {
  if (!existsSync(value)) return value;
  const text = readFileSync(value, 'utf8').trim();
  if (!text.startsWith('{')) return text;
  const parsed = rubricSpecSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new UnrecoverableError(
      `rubric file ${value} is not a rubric object: ${parsed.error.issues[0]?.message}`,
    );
  return parsed.data;
}
