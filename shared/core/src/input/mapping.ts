import { compile, type JSONValue, TreeInterpreter } from '@jmespath-community/jmespath';
import { type FieldMap, type MAPPABLE_FIELDS, PRESETS, type PresetName } from '@phudge/contracts';
import { InvalidInputError } from '../errors.js';

/** A compiled JMESPath expression (the library does not export the type by name). */
type ExpressionNode = ReturnType<typeof compile>;

type MappableField = (typeof MAPPABLE_FIELDS)[number];

/** Fields an item cannot be graded without: a mapping that finds nothing for one makes the item an error. */
const REQUIRED_WHEN_MAPPED: ReadonlySet<string> = new Set([
  'instruction',
  'response',
  'responses',
  'messages',
]);

/** A mapping expression that does not parse: the whole run is refused, naming it. */
export class InvalidMappingError extends Error {
  override readonly name = 'InvalidMappingError';
  constructor(
    readonly field: string,
    readonly expression: string,
    reason: string,
  ) {
    super(`map.${field}: "${expression}" is not a JMESPath expression: ${reason}`);
  }
}

/** A record whose mapping found nothing for a field the item needs; it still names the id it mapped. */
export class UnmappedFieldError extends InvalidInputError {
  constructor(
    message: string,
    readonly id: string | undefined,
  ) {
    super('invalid_input', message);
  }
}

/**
 * Turns one input record (any log schema) into a grading request in this project's schema.
 * @throws InvalidInputError when a field the item needs is mapped and its expression finds nothing.
 */
export type RecordMapper = (record: unknown) => unknown;

/**
 * Compiles a preset and a map (the map's entries win) into a mapper. With neither, records are
 * taken as they are. With either, the request is made of the mapped fields only, so that a
 * log's own fields that happen to share a name (`output`, `prompt`) cannot slip in beside them.
 * @throws InvalidMappingError for an expression that does not parse.
 */
export function compileMapping(preset?: PresetName, map?: FieldMap): RecordMapper {
  const entries = Object.entries({ ...(preset ? PRESETS[preset] : {}), ...map });
  if (entries.length === 0) return (record) => record;
  const compiled = entries.map(([field, expression]) => {
    let node: ExpressionNode;
    try {
      node = compile(expression);
    } catch (error) {
      throw new InvalidMappingError(field, expression, (error as Error).message);
    }
    return { field, expression, node };
  });
  return (record) => {
    const request: Record<string, unknown> = {};
    const metadata: Record<string, unknown> = {};
    let missing: string | undefined;
    for (const { field, expression, node } of compiled) {
      const value = evaluate(node, record);
      if (value === null || value === undefined) {
        if (REQUIRED_WHEN_MAPPED.has(field))
          missing ??= `missing field: ${field} (map: "${expression}" found nothing)`;
        continue;
      }
      if (field.startsWith('metadata.')) metadata[field.slice('metadata.'.length)] = value;
      else
        request[field as MappableField] = field === 'id' && typeof value === 'number' ? String(value) : value;
    }
    if (Object.keys(metadata).length > 0) {
      const whole = request.metadata;
      request.metadata = isPlainObject(whole) ? { ...whole, ...metadata } : metadata;
    }
    if (missing)
      throw new UnmappedFieldError(missing, typeof request.id === 'string' ? request.id : undefined);
    return request;
  };
}

function evaluate(node: ExpressionNode, record: unknown): unknown {
  return TreeInterpreter.search(node, record as JSONValue);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses `field=EXPR` as given to `--map` (the expression may itself hold `=`).
 * @throws Error naming the flag's value when there is no `=`.
 */
export function parseMapFlag(flag: string): [string, string] {
  const equals = flag.indexOf('=');
  if (equals <= 0) throw new Error(`--map takes field=EXPR, not "${flag}"`);
  return [flag.slice(0, equals).trim(), flag.slice(equals + 1).trim()];
}
