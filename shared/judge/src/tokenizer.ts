import { readFile } from 'node:fs/promises';
import { UnrecoverableError } from '@phudge/core';
import { Tokenizer } from 'tokenizers';
import type { JudgeBundle } from './bundle.js';

/** A token as tokenizer_config.json writes it: a string, or an AddedToken object. */
type ConfigToken = string | { content: string } | null | undefined;

interface TokenizerConfig {
  bos_token?: ConfigToken;
  eos_token?: ConfigToken;
  pad_token?: ConfigToken;
  unk_token?: ConfigToken;
  sep_token?: ConfigToken;
  cls_token?: ConfigToken;
  mask_token?: ConfigToken;
  padding_side?: 'left' | 'right';
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  added_tokens_decoder?: Record<string, { content: string; special?: boolean }>;
  additional_special_tokens?: ConfigToken[];
}

export type PaddingSide = 'left' | 'right';

/** Token ids of one text, with the character span of each token (UTF-16 indices into the text). */
export interface TokenSpans {
  count: number;
  /** start and end of token i at [2i], [2i+1]. */
  offsets: Int32Array;
}

/**
 * The bundle's tokenizer: the native HF `tokenizers` binding over `tokenizer.json`, with special
 * tokens and padding side from `tokenizer_config.json`. No token id is hard-coded anywhere.
 */
export class JudgeTokenizer {
  private constructor(
    private readonly native: Tokenizer,
    /** Prepended to every prompt when the config says add_bos_token. */
    readonly bosId: number | undefined,
    /** Appended to every prompt when the config says add_eos_token. */
    readonly eosId: number | undefined,
    readonly padId: number,
    readonly paddingSide: PaddingSide,
    /** Strings the tokenizer turns into special token ids wherever they appear in a text. */
    readonly specialTokens: readonly string[],
    /** The manifest's text_prefix, its single token id, and the ids that make the slow tokenizer drop it. */
    private readonly prefix?: { text: string; id: number; droppedBefore: ReadonlySet<number> },
  ) {}

  static async load(bundle: JudgeBundle): Promise<JudgeTokenizer> {
    let config: TokenizerConfig;
    try {
      config = JSON.parse(await readFile(bundle.tokenizerConfigPath, 'utf8'));
    } catch (error) {
      throw new UnrecoverableError(
        `judge bundle ${bundle.dir}: tokenizer_config.json: ${(error as Error).message}`,
      );
    }
    let native: Tokenizer;
    try {
      native = Tokenizer.fromFile(bundle.tokenizerPath);
    } catch (error) {
      throw new UnrecoverableError(`judge bundle ${bundle.dir}: tokenizer.json: ${String(error)}`);
    }
    const idOf = (token: ConfigToken, key: string): number | undefined => {
      const content = tokenContent(token);
      if (content === undefined) return undefined;
      const id = native.tokenToId(content);
      if (id === null || id === undefined) {
        throw new UnrecoverableError(
          `judge bundle ${bundle.dir}: tokenizer_config.json ${key} "${content}" is not in the vocabulary`,
        );
      }
      return id;
    };
    const bosId = idOf(config.bos_token, 'bos_token');
    const eosId = idOf(config.eos_token, 'eos_token');
    const padId = idOf(config.pad_token, 'pad_token') ?? eosId;
    if (padId === undefined) {
      throw new UnrecoverableError(
        `judge bundle ${bundle.dir}: tokenizer_config.json names neither pad_token nor eos_token`,
      );
    }
    // transformers' "all special tokens": the named ones. Added tokens are special too for
    // sanitizing, but only these make the slow tokenizer drop a leading text prefix.
    const named = new Set<string>();
    for (const token of [
      config.bos_token,
      config.eos_token,
      config.pad_token,
      config.unk_token,
      config.sep_token,
      config.cls_token,
      config.mask_token,
      ...(config.additional_special_tokens ?? []),
    ]) {
      const content = tokenContent(token);
      if (content) named.add(content);
    }
    const special = new Set(named);
    for (const added of Object.values(config.added_tokens_decoder ?? {})) {
      if (added.special !== false && added.content) special.add(added.content);
    }
    const prefixText = bundle.manifest.text_prefix;
    const prefixId = prefixText === undefined ? undefined : native.tokenToId(prefixText);
    if (prefixText !== undefined && (prefixId === null || prefixId === undefined)) {
      throw new UnrecoverableError(
        `judge bundle ${bundle.dir}: judge.json text_prefix "${prefixText}" is not one token of the vocabulary`,
      );
    }
    return new JudgeTokenizer(
      native,
      config.add_bos_token === false ? undefined : bosId,
      config.add_eos_token ? eosId : undefined,
      padId,
      config.padding_side ?? 'left',
      [...special],
      prefixText === undefined
        ? undefined
        : {
            text: prefixText,
            id: prefixId as number,
            droppedBefore: new Set(
              [...named].map((token) => native.tokenToId(token)).filter((id) => typeof id === 'number'),
            ),
          },
    );
  }

  /** Model input ids of each prompt: the text's tokens (after any text prefix) between the configured BOS and EOS. */
  async encode(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return [];
    const prefix = this.prefix;
    // The slow tokenizer leaves an empty text empty: no prefix there.
    const inputs = prefix ? texts.map((text) => (text === '' ? text : prefix.text + text)) : texts;
    const encodings = await this.native.encodeBatch(inputs, { addSpecialTokens: false });
    return encodings.map((encoding) => {
      const ids = encoding.getIds();
      if (prefix && ids[0] === prefix.id && prefix.droppedBefore.has(ids[1] as number)) ids.shift();
      if (this.bosId !== undefined) ids.unshift(this.bosId);
      if (this.eosId !== undefined) ids.push(this.eosId);
      return ids;
    });
  }

  /** Ids and character spans of plain texts (no BOS/EOS), for cutting bodies at token boundaries. */
  async spans(texts: string[]): Promise<TokenSpans[]> {
    if (texts.length === 0) return [];
    const encodings = await this.native.encodeBatch(texts, { addSpecialTokens: false });
    return encodings.map((encoding, i) => {
      const offsets = encoding.getOffsets();
      const toUtf16 = codePointToUtf16(texts[i] as string);
      const flat = new Int32Array(offsets.length * 2);
      offsets.forEach(([start, end], t) => {
        flat[2 * t] = toUtf16(start as number);
        flat[2 * t + 1] = toUtf16(end as number);
      });
      return { count: offsets.length, offsets: flat };
    });
  }

  /** The text of token ids, special tokens included (for inspection and tests). */
  decode(ids: number[]): Promise<string> {
    return this.native.decode(ids, false);
  }

  /** Id of a single token (such as a causal judge's score token). */
  tokenId(token: string): number | undefined {
    return this.native.tokenToId(token) ?? undefined;
  }
}

function tokenContent(token: ConfigToken): string | undefined {
  if (token === null || token === undefined) return undefined;
  return typeof token === 'string' ? token : token.content;
}

/**
 * The Rust binding reports offsets in Unicode code points; JavaScript strings index UTF-16 code
 * units. Texts without astral characters (the common case) need no mapping.
 */
function codePointToUtf16(text: string): (codePoint: number) => number {
  if (!/[\uD800-\uDBFF]/.test(text)) return (index) => index;
  const map: number[] = [];
  let unit = 0;
  for (const char of text) {
    map.push(unit);
    unit += char.length;
  }
  map.push(unit);
  return (index) => map[index] ?? unit;
}
