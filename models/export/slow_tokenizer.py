"""The slow (SentencePiece) Llama tokenizer that PHUDGE was trained with, rebuilt on sentencepiece.

transformers 5 no longer has it: there `AutoTokenizer(use_fast=False)` quietly returns the same
`tokenizers` backend as the fast one, so comparing the two would always agree. This class follows
transformers 4.x `LlamaTokenizer` (the class Phi-3's tokenizer_config names) step by step, so the
exporter can report where the fleet's fast tokenizer (tokenizer.json) differs from training:

- added tokens are split out first (longest match), honouring their lstrip / rstrip /
  single_word flags from tokenizer_config.json;
- with `legacy: false` (Phi-3's setting) SentencePiece's dummy prefix is switched off, one "▁" is
  put before the whole text instead, a segment that starts with a space keeps it through the
  "<unk>" trick, and a lone leading "▁" is dropped only before a *special* token (bos, eos, unk,
  pad, additional_special_tokens);
- with `legacy: true` every text segment gets SentencePiece's own dummy prefix.

`models/export/slow_fixture.py` recorded transformers 4.57's own ids, which test/export checks
this class against.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

from .match_slow import SPIECE_UNDERLINE
SPECIAL_ATTRIBUTES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


def _content(token) -> str | None:
    """A special-token entry of tokenizer_config.json is a string or an AddedToken dict."""
    return token.get("content") if isinstance(token, dict) else token


class SlowLlamaTokenizer:
    def __init__(self, folder: Path):
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        specials_map_file = folder / "special_tokens_map.json"
        specials_map = json.loads(specials_map_file.read_text(encoding="utf-8")) if specials_map_file.exists() else {}
        self.legacy = config.get("legacy")
        self.legacy = True if self.legacy is None else bool(self.legacy)  # transformers 4's default
        self.add_prefix_space = config.get("add_prefix_space", True)
        self.sp = self._load_sentencepiece(folder / "tokenizer.model")

        self.added = {}  # content -> (id, lstrip, rstrip, single_word)
        for token_id, entry in config.get("added_tokens_decoder", {}).items():
            self.added[entry["content"]] = (int(token_id), entry.get("lstrip", False), entry.get("rstrip", False), entry.get("single_word", False))
        special = {_content(config.get(a, specials_map.get(a))) for a in SPECIAL_ATTRIBUTES}
        for extra in config.get("additional_special_tokens") or specials_map.get("additional_special_tokens") or []:
            special.add(_content(extra))
        # transformers' all_special_tokens: a leading "▁" before one of these is dropped.
        self.special_ids = {self.token_id(s) for s in special if s}
        self.underline_id = self.sp.piece_to_id(SPIECE_UNDERLINE)
        self.unk = _content(config.get("unk_token", "<unk>")) or "<unk>"
        self.unk_length = len(self.sp.encode(self.unk))
        # Longest first at each position, as transformers' trie does.
        alternation = "|".join(re.escape(t) for t in sorted(self.added, key=len, reverse=True))
        self._split = re.compile(f"({alternation})") if alternation else None

    def _load_sentencepiece(self, path: Path) -> spm.SentencePieceProcessor:
        if self.legacy:
            return spm.SentencePieceProcessor(model_file=str(path))
        model = sentencepiece_model_pb2.ModelProto.FromString(path.read_bytes())
        model.normalizer_spec.add_dummy_prefix = False
        return spm.SentencePieceProcessor(model_proto=model.SerializeToString())

    def encode(self, text: str) -> list[int]:
        """The ids of `text` without bos/eos (transformers' `encode(text, add_special_tokens=False)`)."""
        if not text:
            return []
        if not self.legacy:
            text = text.replace(SPIECE_UNDERLINE, " ")
            if self.add_prefix_space:
                text = SPIECE_UNDERLINE + text
        ids: list[int] = []
        for piece in self._split_added(text):
            if piece in self.added:
                ids.append(self.added[piece][0])
            elif piece:
                ids.extend(self._encode_segment(piece))
        if not self.legacy and len(ids) > 1 and ids[0] == self.underline_id and ids[1] in self.special_ids:
            ids = ids[1:]
        return ids

    def token_id(self, token) -> int:
        """The id of a token named in tokenizer_config.json (a string or an AddedToken dict)."""
        content = _content(token)
        return self.added[content][0] if content in self.added else self.sp.piece_to_id(content)

    def _split_added(self, text: str) -> list[str]:
        """Text pieces and added tokens, with the added tokens' strip rules applied to their
        neighbours; a piece stripped to nothing stays in place (as "") like in transformers."""
        if self._split is None:
            return [text]
        pieces = [p for p in self._split.split(text) if p]  # transformers' trie yields no empty pieces
        for i, piece in enumerate(pieces):
            if piece not in self.added:
                continue
            _, lstrip, rstrip, single_word = self.added[piece]
            left = pieces[i - 1] if i > 0 else None
            right = pieces[i + 1] if i < len(pieces) - 1 else None
            if rstrip and right:
                pieces[i + 1] = right.lstrip()
            if lstrip and left:
                pieces[i - 1] = left.rstrip()
            if single_word and left and left[-1] != " ":
                pieces[i - 1] += piece
                pieces[i] = ""
            elif single_word and right and right[0] != " ":
                pieces[i + 1] = piece + pieces[i + 1]
                pieces[i] = ""
        return pieces

    def _encode_segment(self, text: str) -> list[int]:
        if self.legacy or not text.startswith((SPIECE_UNDERLINE, " ")):
            return self.sp.encode(text)
        # Without the dummy prefix SentencePiece drops a leading "▁": encode "<unk>" + text and
        # cut the "<unk>" pieces off, as transformers does.
        ids = self.sp.encode(self.unk + text)
        return ids[self.unk_length :] if len(ids) >= self.unk_length else ids
