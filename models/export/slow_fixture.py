"""Ids from transformers 4.x's own slow LlamaTokenizer, to hold SlowLlamaTokenizer to.

    python -m models.export.slow_fixture --write   # needs transformers<5 (its slow LlamaTokenizer)
    python -m models.export.slow_fixture           # checks SlowLlamaTokenizer against the file

The project's test tokenizer (models/tokenizer, Phi-3's layout) is tried under a few
tokenizer_config variants: Phi-3's own `legacy: false`, `legacy: true`, and added tokens with
lstrip / rstrip / single_word and a listed additional special token, on the parity prompts and
on strings that hit each rule.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from .fleet_inputs import fleet_inputs

REPO = Path(__file__).resolve().parents[2]
TOKENIZER = REPO / "models" / "tokenizer"
FIXTURE = REPO / "models" / "export" / "slow_ids.json"

TEXTS = [
    "Hello",
    " Hello  world",
    "\u2581Hi there",
    "<|user|>\nHi<|end|>\n<|assistant|>\n",
    "Hi <|end|>  there <|user|>x",
    "<s>x</s>",
    "a\n\nb\tc",
    "caf\u00e9 \u2713 \u4f60\u597d",
    "[RESULT] 4",
    "\u2581x<|end|><|user|>",
    "x <|user|><|assistant|> y",
    "<|end|> <|user|>",
]


def _strip_flags(config: dict) -> None:
    flags = {"<|end|>": {"rstrip": True}, "<|assistant|>": {"lstrip": True}, "<|user|>": {"single_word": True}}
    for entry in config["added_tokens_decoder"].values():
        entry.update(flags.get(entry["content"], {}))
    config["additional_special_tokens"] = ["<|system|>", "<|user|>"]


VARIANTS = {
    "phi3": lambda config: None,
    "legacy": lambda config: config.update(legacy=True),
    "strip-flags": _strip_flags,
}


def variant_folder(name: str, parent: Path) -> Path:
    """models/tokenizer with one tokenizer_config variant, minus tokenizer.json (slow only)."""
    folder = parent / name
    folder.mkdir()
    shutil.copyfile(TOKENIZER / "tokenizer.model", folder / "tokenizer.model")
    config = json.loads((TOKENIZER / "tokenizer_config.json").read_text())
    VARIANTS[name](config)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return folder


def texts() -> list[str]:
    return TEXTS + fleet_inputs(REPO / "models" / "tiny-judge")["prompts"]  # the same tokenizer


def write() -> None:
    import transformers
    from transformers import LlamaTokenizer

    cases = texts()
    fixture = {"transformers": transformers.__version__, "texts": cases, "ids": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in VARIANTS:
            tokenizer = LlamaTokenizer.from_pretrained(variant_folder(name, Path(tmp)), local_files_only=True)
            fixture["ids"][name] = [tokenizer.encode(t, add_special_tokens=False) for t in cases]
    FIXTURE.write_text(json.dumps(fixture) + "\n")
    print(f"wrote {FIXTURE} with transformers {transformers.__version__}")


def check() -> int:
    from .slow_tokenizer import SlowLlamaTokenizer

    fixture = json.loads(FIXTURE.read_text())
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, expected in fixture["ids"].items():
            tokenizer = SlowLlamaTokenizer(variant_folder(name, Path(tmp)))
            for text, ids in zip(fixture["texts"], expected):
                got = tokenizer.encode(text)
                if got != ids:
                    failures.append({"variant": name, "text": text[:60], "expected": ids[:12], "got": got[:12]})
    cases = sum(len(v) for v in fixture["ids"].values())
    print(json.dumps({"cases": cases, "failures": failures, "reference": f"transformers {fixture['transformers']}"}))
    return 1 if failures else 0


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    else:
        sys.exit(check())
