/**
 * What an API token may do:
 * - `submit`: start runs (`POST /v1/runs`) and grade items (`POST /v1/grade`, with `read`);
 * - `read`: a run's status, summary and results;
 * - `metrics`: the queue depth (`GET /v1/queue`), for autoscalers.
 */
export const API_SCOPES = ['submit', 'read', 'metrics'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** One accepted bearer token: its name (the only thing ever logged) and its scopes. */
export interface ApiToken {
  name: string;
  scopes: readonly ApiScope[];
  token: string;
}

/** A `PHUDGE_API_TOKENS` value that cannot be parsed. The message never contains a token. */
export class ApiTokensError extends Error {
  override readonly name = 'ApiTokensError';
}

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Parses `PHUDGE_API_TOKENS`: entries separated by commas or newlines, each either
 * - `name:scope+scope:token` (scopes from {@link API_SCOPES}; the token may contain `:`), or
 * - a plain token without `:`, which has every scope and is named `token-N` (N its position),
 *   so that a list of plain tokens keeps working as it always did.
 * @throws ApiTokensError naming the bad entry by position, never by its text.
 */
export function parseApiTokens(value: string): ApiToken[] {
  const entries = value
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const tokens = entries.map((entry, index) => parseEntry(entry, index + 1));
  const names = new Set<string>();
  const secrets = new Set<string>();
  for (const [index, token] of tokens.entries()) {
    if (names.has(token.name))
      throw new ApiTokensError(`entry ${index + 1}: the name "${token.name}" is taken`);
    if (secrets.has(token.token))
      throw new ApiTokensError(`entry ${index + 1}: the same token appears twice`);
    names.add(token.name);
    secrets.add(token.token);
  }
  return tokens;
}

function parseEntry(entry: string, position: number): ApiToken {
  const first = entry.indexOf(':');
  if (first === -1) return { name: `token-${position}`, scopes: API_SCOPES, token: entry };
  const second = entry.indexOf(':', first + 1);
  if (second === -1) throw new ApiTokensError(`entry ${position}: expected name:scope+scope:token`);
  const name = entry.slice(0, first);
  const scopes = entry.slice(first + 1, second).split('+');
  const token = entry.slice(second + 1);
  // Errors name the entry by position only: a plain token mistakenly containing `:` would
  // otherwise be echoed, in part, into a start-up log.
  if (!NAME_PATTERN.test(name))
    throw new ApiTokensError(`entry ${position}: a name is 1-64 letters, digits, _ . or -`);
  if (!scopes.every((scope) => (API_SCOPES as readonly string[]).includes(scope)))
    throw new ApiTokensError(`entry ${position}: scopes are ${API_SCOPES.join(', ')}, joined by +`);
  if (token === '') throw new ApiTokensError(`entry ${position}: the token is empty`);
  return { name, scopes: [...new Set(scopes as ApiScope[])], token };
}
