import type { PhudgeError } from './errors.js';

/**
 * The JSON values of an NDJSON body, one line at a time: only the line being read is held, so a
 * run of any size streams through. Stopping early (a `break`) cancels the body and frees the
 * connection.
 * @param failure turns a read failure (a broken connection, an abort) into the SDK's error.
 */
export async function* ndjsonValues(
  body: ReadableStream<Uint8Array>,
  failure: (cause: unknown) => PhudgeError,
): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let partial = '';
  let finished = false;
  try {
    for (;;) {
      const read = await reader.read().catch((cause: unknown) => {
        finished = true;
        throw failure(cause);
      });
      if (read.done) break;
      const lines = (partial + decoder.decode(read.value, { stream: true })).split('\n');
      partial = lines.pop() as string; // split always leaves one element: the unfinished line
      for (const line of lines) if (line.trim() !== '') yield JSON.parse(line);
    }
    finished = true;
    partial += decoder.decode();
    if (partial.trim() !== '') yield JSON.parse(partial);
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
  }
}
