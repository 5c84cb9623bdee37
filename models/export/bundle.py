"""Writing a judge bundle: the manifest (judge.json) with checksums and provenance, and the
tokenizer files. Pure Python (no torch), so that CI can test it against the TypeScript loader.

A bundle folder holds:
  judge.json             the manifest (schema: shared/core/src/schemas/manifest.ts)
  model.onnx             the graph (+ model.onnx.data, external weights, past 2 GB)
  tokenizer.json         HF fast tokenizer
  tokenizer_config.json  special tokens, padding side
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
MANIFEST_FILE = "judge.json"
# A causal judge reads its score from the next-token logits of these.
CAUSAL_SCORE_TOKENS = ["1", "2", "3", "4", "5"]


def read_manifest(out: Path) -> dict | None:
    path = out / MANIFEST_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def save_manifest(out: Path, manifest: dict) -> None:
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(
    out: Path,
    *,
    name: str,
    version: str,
    head: str,
    max_length: int,
    provenance: dict,
    template: str = "phudge",
    model_file: str = "model.onnx",
    external_data: str | None = None,
    score_tokens: list[str] | None = None,
    score_prefix: str | None = None,
    text_prefix: str | None = None,
    untrained: bool = False,
) -> dict:
    """Writes judge.json for the model file(s) already in `out`, with their sha256."""
    if head not in ("regression", "classification", "causal"):
        raise ValueError(f"head must be regression, classification or causal, not {head!r}")
    if head == "causal" and not score_tokens:
        raise ValueError("a causal judge needs score_tokens")
    for file in TOKENIZER_FILES:
        if not (out / file).is_file():
            raise FileNotFoundError(f"{out / file} is missing: copy the tokenizer files first")
    manifest = {
        "name": name,
        "version": version,
        "head": head,
        "template": template,
        "max_length": max_length,
        "score_range": [1, 5],
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
        "output": "logits",
        "model_file": model_file,
        "sha256": sha256_file(out / model_file),
        "untrained": untrained,
        "provenance": provenance,
    }
    if external_data:
        manifest["external_data"] = external_data
        manifest["external_data_sha256"] = sha256_file(out / external_data)
    if score_tokens:
        manifest["score_tokens"] = score_tokens
        manifest["score_prefix"] = score_prefix if score_prefix is not None else "[RESULT] "
    if text_prefix:
        manifest["text_prefix"] = text_prefix
    save_manifest(out, manifest)
    return manifest


def copy_tokenizer(source: Path, out: Path) -> None:
    """Copies tokenizer.json and tokenizer_config.json from a model folder into the bundle."""
    for file in TOKENIZER_FILES:
        shutil.copyfile(source / file, out / file)


def main() -> None:
    """Writes judge.json for a folder that already holds the model and tokenizer files."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--head", required=True, choices=["regression", "classification", "causal"])
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--external-data")
    parser.add_argument("--provenance", default="{}", help="JSON object")
    args = parser.parse_args()
    # A tokenizer.json rewritten by match_slow.py only works with its text_prefix: keep it.
    text_prefix = (read_manifest(args.bundle) or {}).get("text_prefix")
    manifest = write_manifest(
        args.bundle,
        name=args.name,
        version=args.version,
        head=args.head,
        max_length=args.max_length,
        external_data=args.external_data,
        score_tokens=CAUSAL_SCORE_TOKENS if args.head == "causal" else None,
        text_prefix=text_prefix,
        provenance=json.loads(args.provenance),
    )
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
