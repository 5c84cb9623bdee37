/**
 * Neutralizes special-token strings in user text. A logged response may contain `<|end|>`,
 * `<|assistant|>` or `<s>`; the tokenizer would turn them into special token ids and let the text
 * forge the prompt's structure. A space after the first character keeps the text readable and
 * makes it ordinary text to the tokenizer.
 */
export type Sanitizer = (text: string) => { text: string; changed: boolean };

export function createSanitizer(specialTokens: readonly string[]): Sanitizer {
  const tokens = specialTokens.filter((token) => token.length > 1);
  if (tokens.length === 0) return (text) => ({ text, changed: false });
  // Longest first, so that a token that contains another is matched whole.
  const alternation = [...tokens]
    .sort((a, b) => b.length - a.length)
    .map((token) => token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('|');
  const pattern = new RegExp(alternation, 'g');
  return (text) => {
    pattern.lastIndex = 0;
    if (!pattern.test(text)) return { text, changed: false };
    // Repeat until stable: neutralizing one match can never form a new one, but be certain.
    let out = text;
    do {
      out = out.replace(pattern, (token) => `${token[0]} ${token.slice(1)}`);
      pattern.lastIndex = 0;
    } while (pattern.test(out));
    return { text: out, changed: true };
  };
}
