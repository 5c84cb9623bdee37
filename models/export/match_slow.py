"""--match-slow-tokenizer: make the fleet tokenize as the slow tokenizer PHUDGE was trained with.

Phi-3's tokenizer.json prepends "▁" to every text segment between special tokens (its normalizer
has a Prepend step), which is the slow tokenizer's `legacy: true` behaviour. Its
tokenizer_config.json says `legacy: false`: the slow tokenizer puts one "▁" before the whole text
and none after special tokens. So the bundle gets a tokenizer.json without the per-segment "▁",
and judge.json's `text_prefix` puts the one "▁" back before each prompt (JudgeTokenizer drops it
again before a named special token, as the slow tokenizer does). The export's parity report then
compares the result with the slow tokenizer (slow_tokenizer.py) on the fleet's own prompts.

An existing bundle, without torch (rewrites its tokenizer.json and judge.json in place):

    python3 -m models.export.match_slow BUNDLE_DIR
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .bundle import read_manifest, save_manifest

SPIECE_UNDERLINE = "\u2581"  # pure Python on purpose: bundle writing needs no packages


def _without_prepend(normalizer: dict | None) -> dict | None:
    if normalizer is None or normalizer.get("type") == "Prepend":
        return None
    if normalizer.get("type") == "Sequence":
        steps = [n for n in (_without_prepend(step) for step in normalizer["normalizers"]) if n is not None]
        return {**normalizer, "normalizers": steps} if steps else None
    return normalizer


def _never_prepend(pre_tokenizer: dict | None) -> dict | None:
    if pre_tokenizer is None:
        return None
    if pre_tokenizer.get("type") == "Metaspace":
        return {**pre_tokenizer, "prepend_scheme": "never"}
    if pre_tokenizer.get("type") == "Sequence":
        return {**pre_tokenizer, "pretokenizers": [_never_prepend(p) for p in pre_tokenizer["pretokenizers"]]}
    return pre_tokenizer


def match_slow_tokenizer(bundle: Path) -> str | None:
    """Rewrites bundle/tokenizer.json for the slow tokenizer's `legacy: false` behaviour and
    returns the text prefix for judge.json; None where the slow tokenizer is the legacy one, which
    the fast tokenizer already matches. Running it twice changes nothing more."""
    config = json.loads((bundle / "tokenizer_config.json").read_text(encoding="utf-8"))
    if config.get("legacy", True) is not False:
        print("match-slow-tokenizer: tokenizer_config says legacy, which tokenizer.json already follows", file=sys.stderr)
        return None
    path = bundle / "tokenizer.json"
    tokenizer = json.loads(path.read_text(encoding="utf-8"))
    tokenizer["normalizer"] = _without_prepend(tokenizer.get("normalizer"))
    tokenizer["pre_tokenizer"] = _never_prepend(tokenizer.get("pre_tokenizer"))
    path.write_text(json.dumps(tokenizer, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return SPIECE_UNDERLINE if config.get("add_prefix_space", True) else None


def main(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    if manifest is None:
        sys.exit(f"{bundle} has no judge.json: is it a judge bundle?")
    prefix = match_slow_tokenizer(bundle)
    if prefix:
        manifest["text_prefix"] = prefix
    else:
        manifest.pop("text_prefix", None)
    save_manifest(bundle, manifest)
    print(f"{bundle}: tokenizer.json rewritten, text_prefix {prefix!r}; parity.json (if any) predates this")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 -m models.export.match_slow BUNDLE_DIR")
    main(Path(sys.argv[1]))
