"""Test tokenizer: train a small SentencePiece BPE model in the Llama/Phi-3 layout and
convert it to a Hugging Face `tokenizer.json` without `transformers`.

The conversion mirrors what transformers' LlamaConverter (used for Phi-3) writes, so the
TypeScript side exercises the same normalizer / model / decoder / post-processor pipeline
as with the real Phi-3-mini tokenizer, only with a 4k vocabulary instead of 32k.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as sp_pb2

SP_VOCAB_SIZE = 4000

# Phi-3-mini appends these after the 32000 Llama pieces, in this order (ids 32000..32010).
# Here they follow the 4000 sp pieces (ids 4000..4010).
PHI3_SPECIALS = [
    "<|endoftext|>",
    "<|assistant|>",
    "<|placeholder1|>",
    "<|placeholder2|>",
    "<|placeholder3|>",
    "<|placeholder4|>",
    "<|system|>",
    "<|end|>",
    "<|placeholder5|>",
    "<|placeholder6|>",
    "<|user|>",
]

SPIECE_UNDERLINE = "\u2581"  # "▁", SentencePiece's whitespace marker


def training_sentences(data_dir: Path) -> list[str]:
    """Text of the local benchmark files, one sentence per line, in a fixed order.

    SentencePiece sees lines, never newlines: like Llama/Phi-3, "\\n" (and any other
    character not in the vocab) is then encoded through the <0xNN> byte-fallback pieces.
    """
    fields = [
        ("vicuna_eval.json", ["instruction"]),
        ("hhh_alignment_eval.json", ["chosen_instruction", "rejected_instruction"]),
        ("pandalm_testset-v1.json", ["instruction", "input", "response1", "response2"]),
    ]
    sentences: list[str] = []
    for file_name, keys in fields:
        rows = json.loads((data_dir / file_name).read_text(encoding="utf-8"))
        for row in rows:
            for key in keys:
                text = row.get(key)
                if not isinstance(text, str):  # a few pandalm responses are JSON booleans
                    continue
                for line in text.split("\n"):
                    if line.strip():
                        sentences.append(line)
    return sentences


def train_sentencepiece(sentences: list[str]) -> bytes:
    """Train the BPE model in memory and return the serialized ModelProto."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        model_type="bpe",
        vocab_size=SP_VOCAB_SIZE,
        byte_fallback=True,
        split_digits=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=True,
        character_coverage=0.9995,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        unk_piece="<unk>",
        bos_piece="<s>",
        eos_piece="</s>",
        # Deterministic: load every sentence in the given order, no sampling/shuffling.
        input_sentence_size=0,
        shuffle_input_sentence=False,
        # Long lines (pasted code, tables) must not be silently dropped.
        max_sentence_length=1 << 16,
        num_threads=2,
        minloglevel=2,
    )
    return model.getvalue()


# ---------------------------------------------------------------------------
# SentencePiece -> tokenizer.json (what transformers' LlamaConverter produces)
# ---------------------------------------------------------------------------


def _added_token(token_id: int, content: str) -> dict:
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def generate_merges(vocab: dict[str, int], vocab_scores: list[tuple[str, float]]) -> list[tuple[str, str]]:
    """Port of transformers.convert_slow_tokenizer.generate_merges (with vocab_scores).

    Every split of a piece into two pieces that are both in the vocab becomes a merge.
    Merges are ranked by the merged piece's score (descending, i.e. by sp id for BPE
    pieces), ties within one piece by (id of left, id of right). sp's BPE encoder merges
    the adjacent pair whose concatenation has the best score, so the ranks agree.
    """
    merges = []
    for merge, piece_score in vocab_scores:
        local = []
        for index in range(1, len(merge)):
            piece_l, piece_r = merge[:index], merge[index:]
            if piece_l in vocab and piece_r in vocab:
                local.append((piece_l, piece_r, piece_score))
        local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)  # stable, like Python's sorted()
    return [(left, right) for left, right, _ in merges]


def convert_to_tokenizer_json(sp_model: bytes) -> dict:
    proto = sp_pb2.ModelProto()
    proto.ParseFromString(sp_model)
    pieces = [(p.piece, p.score) for p in proto.pieces]
    vocab = {piece: i for i, (piece, _) in enumerate(pieces)}
    assert len(vocab) == len(pieces) == SP_VOCAB_SIZE, "duplicate sp pieces"
    merges = generate_merges(vocab, pieces)
    # Merges are written in the classic "left right" string form (what Phi-3's own
    # tokenizer.json uses); that is only unambiguous if no piece contains a space.
    assert not any(" " in piece for piece in vocab), "piece with a literal space"

    unk, bos, eos = (proto.pieces[i].piece for i in (0, 1, 2))
    assert (unk, bos, eos) == ("<unk>", "<s>", "</s>")

    added = [_added_token(i, p) for i, p in ((0, unk), (1, bos), (2, eos))]
    added += [_added_token(SP_VOCAB_SIZE + i, p) for i, p in enumerate(PHI3_SPECIALS)]
    full_vocab = dict(vocab)
    for tok in added:
        full_vocab.setdefault(tok["content"], tok["id"])

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        # Llama/Phi-3 (legacy=False style, tokenizers >= 0.14): prepend "▁" to every text
        # segment between special tokens, then spaces -> "▁"; no pre-tokenizer, so BPE
        # runs over the whole segment exactly like sp's encoder.
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Prepend", "prepend": SPIECE_UNDERLINE},
                {"type": "Replace", "pattern": {"String": " "}, "content": SPIECE_UNDERLINE},
            ],
        },
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": bos, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
            ],
            "pair": [
                {"SpecialToken": {"id": bos, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": bos, "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {bos: {"id": bos, "ids": [vocab[bos]], "tokens": [bos]}},
        },
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": SPIECE_UNDERLINE}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0},
            ],
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": unk,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": full_vocab,
            "merges": [f"{left} {right}" for left, right in merges],
        },
    }


def tokenizer_config() -> dict:
    """HF tokenizer_config.json, Phi-3-mini's values (eos/pad = <|endoftext|>, left padding)."""
    contents = {0: "<unk>", 1: "<s>", 2: "</s>"}
    contents.update({SP_VOCAB_SIZE + i: p for i, p in enumerate(PHI3_SPECIALS)})
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {
            str(i): {
                "content": c,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for i, c in contents.items()
        },
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>",
        "legacy": False,
        "model_max_length": 2048,
        "pad_token": "<|endoftext|>",
        "padding_side": "left",
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }


class SlowTokenizer:
    """Reference ("slow") encoding: split on the special-token strings, map each special
    to its id and encode each text segment with sentencepiece itself (whose
    add_dummy_prefix prepends "▁" per segment, like the HF Prepend normalizer)."""

    def __init__(self, sp_model: bytes):
        self.sp = spm.SentencePieceProcessor(model_proto=sp_model)
        specials = {"<unk>": 0, "<s>": 1, "</s>": 2}
        specials.update({p: SP_VOCAB_SIZE + i for i, p in enumerate(PHI3_SPECIALS)})
        self.special_ids = specials
        # Longest first so that no special is matched by a prefix of another.
        alternation = "|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True))
        self._split = re.compile(f"({alternation})")

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        ids = [1] if add_bos else []
        for part in self._split.split(text):
            if part in self.special_ids:
                ids.append(self.special_ids[part])
            elif part:
                ids.extend(self.sp.encode(part))
        return ids

    def piece_to_id(self, piece: str) -> int:
        return self.sp.piece_to_id(piece)
