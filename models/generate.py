#!/usr/bin/python3
"""Regenerate the test tokenizer and the three tiny random judge bundles under models/.

Run from the repository root with Debian's python (torch, onnx, sentencepiece, numpy):

    /usr/bin/python3 models/generate.py

Inputs: services/cli/data/benchmarks/*.json (tokenizer training text) and
test/fixtures/phudge_prompts.jsonl (golden prompts), both in the repository.
Everything is seeded and single-order, so a rerun rewrites the same files.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import sys
import warnings
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the repo
MODELS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(MODELS_DIR))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

from gen.phi3 import Config, TinyPhi3Judge  # noqa: E402
from gen.tokenizer import (  # noqa: E402
    SP_VOCAB_SIZE,
    SlowTokenizer,
    convert_to_tokenizer_json,
    tokenizer_config,
    train_sentencepiece,
    training_sentences,
)

REPO_ROOT = MODELS_DIR.parent
DATA_DIR = REPO_ROOT / "services" / "cli" / "data" / "benchmarks"
GOLDEN_PROMPTS = REPO_ROOT / "test" / "fixtures" / "phudge_prompts.jsonl"
TOKENIZER_DIR = MODELS_DIR / "tokenizer"

BOS_ID = 1
PAD_ID = SP_VOCAB_SIZE  # <|endoftext|>, Phi-3's pad token
OPSET = 14
SCORE_PREFIX = "[RESULT] "
SCORE_TOKENS = ["1", "2", "3", "4", "5"]
MAX_BUNDLE_BYTES = 5 * 1024 * 1024

BUNDLES = [
    # name, head, seed, model size
    ("tiny-judge", "regression", 1234, Config()),
    ("tiny-judge-classif", "classification", 1235, Config()),
    ("tiny-judge-causal", "causal", 1236, Config()),
    # For benchmarks (bench/): wider and deeper, so that the model's time per item dominates the
    # host's as it does for Phi-3 on a GPU; still a random judge whose scores mean nothing.
    ("bench-judge", "regression", 1237, Config(hidden_size=128, num_layers=4, num_heads=4, intermediate_size=256)),
]

# The user turn of the PHUDGE prompt (the system turn is taken from the golden file).
USER_TEMPLATE = (
    "<|user|>\n###The instruction to evaluate:\n{instruction}\n\n"
    "###Response to evaluate:\n{response}<|end|>\n\n<|assistant|>\n"
)


def write_json(path: Path, obj, indent: int | None = 2) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=indent) + "\n", encoding="utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------


def build_tokenizer() -> SlowTokenizer:
    TOKENIZER_DIR.mkdir(parents=True, exist_ok=True)
    sp_model = train_sentencepiece(training_sentences(DATA_DIR))
    (TOKENIZER_DIR / "tokenizer.model").write_bytes(sp_model)
    write_json(TOKENIZER_DIR / "tokenizer.json", convert_to_tokenizer_json(sp_model))
    write_json(TOKENIZER_DIR / "tokenizer_config.json", tokenizer_config())
    return SlowTokenizer(sp_model)


def load_golden_rows() -> list[dict]:
    with GOLDEN_PROMPTS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_sp_golden_ids(tok: SlowTokenizer, rows: list[dict]) -> list[int]:
    """Reference ids (no BOS) of the 160 golden prompts, for the Node tokenizer test."""
    out = []
    for i, row in enumerate(rows):
        ids = tok.encode(row["prompt"])
        entry = {
            "id": row["id"],
            "variant": row["variant"],
            "count": len(ids),
            "sha256": sha256_hex(",".join(map(str, ids)).encode()),
        }
        if i < 8:
            entry["ids"] = ids
        out.append(entry)
    # One entry per line: readable, diff-friendly, and not 30k lines of ids.
    text = "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in out) + "\n]\n"
    (TOKENIZER_DIR / "sp_golden_ids.json").write_text(text, encoding="utf-8")
    return [e["count"] for e in out]


# ---------------------------------------------------------------------------
# Prompts for golden.json
# ---------------------------------------------------------------------------


def system_turn(rows: list[dict]) -> str:
    """`<|system|>\\n...<|end|>\\n\\n` of the sys_only variant, checked against the file."""
    sys_rows = [r for r in rows if r["variant"] == "sys_only"]
    prompt = sys_rows[0]["prompt"]
    head = prompt[: prompt.index("<|end|>") + len("<|end|>\n\n")]
    for r in sys_rows:  # our template must reproduce the golden sys_only prompts exactly
        assert r["prompt"] == head + USER_TEMPLATE.format(**r), r["id"]
    return head


def cut_to_tokens(tok: SlowTokenizer, head: str, instruction: str, response: str, target: int) -> str:
    """Longest word-boundary prefix of `response` whose prompt (with BOS) has <= target tokens."""
    words = response.split(" ")
    lo, hi = 0, len(words)
    while lo < hi:  # binary search on the number of words kept
        mid = (lo + hi + 1) // 2
        text = head + USER_TEMPLATE.format(instruction=instruction, response=" ".join(words[:mid]))
        if len(tok.encode(text, add_bos=True)) <= target:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def golden_prompts(tok: SlowTokenizer, rows: list[dict]) -> list[str]:
    """Six PHUDGE prompts of widely different lengths (~170 to 700 tokens; the template
    with an empty response is already ~160), one with emoji / CJK / tab / digits / spaces."""
    head = system_turn(rows)
    prompts = []
    by_id = {}
    for r in rows:
        by_id.setdefault(r["id"], r)
    picks = list(by_id.values())
    for row, target in zip([picks[0], picks[9], picks[17], picks[26], picks[35]], [175, 260, 390, 540, 700]):
        response = row["response"] * 2  # long enough to reach every target
        cut = cut_to_tokens(tok, head, row["instruction"], response, target)
        prompts.append(head + USER_TEMPLATE.format(instruction=row["instruction"], response=cut))
    tricky = USER_TEMPLATE.format(
        instruction="Say good morning in Japanese, add one emoji, then count to 3.",
        response="おはようございます 🌅\tCounting:  1, 2,   3 (done in 0.5s)  \n\n— 你好 ✓ ",
    )
    prompts.insert(1, head + tricky)
    return prompts


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


def pad_batch(seqs: list[list[int]], side: str) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, seqs))
    ids, mask = [], []
    for s in seqs:
        pad = width - len(s)
        if side == "left":
            ids.append([PAD_ID] * pad + s)
            mask.append([0] * pad + [1] * len(s))
        else:
            ids.append(s + [PAD_ID] * pad)
            mask.append([1] * len(s) + [0] * pad)
    return torch.tensor(ids, dtype=torch.int64), torch.tensor(mask, dtype=torch.int64)


@torch.no_grad()
def pooled_hidden(model: TinyPhi3Judge, seqs: list[list[int]]) -> torch.Tensor:
    """Hidden state at the last token of every sequence (one at a time: padded batches of
    ~1600-token prompts mostly cost S^2 attention memory here)."""
    rows = []
    for seq in seqs:
        ids = torch.tensor([seq], dtype=torch.int64)
        rows.append(model.hidden_at_last_token(ids, torch.ones_like(ids))[0])
    return torch.stack(rows)


@torch.no_grad()
def calibrate_head(model: TinyPhi3Judge, hidden: torch.Tensor, rows: list[int], std: float, means: list[float]):
    """Rescale random head rows so the outputs on real PHUDGE prompts have a useful spread.

    The pooled token is always the same ("\\n" after <|assistant|>, or "▁" after the score
    prefix), so pooled states share a large common component. Each selected row is made
    orthogonal to that mean state and scaled so that its outputs over the calibration
    prompts (pooled states `hidden`) have standard deviation `std`; `means` then go into
    the bias, or, for the bias-free lm_head, into a multiple of the mean state
    (w . mean = target mean).
    Random directions, deterministic numbers, still meaningless scores.
    """
    mean = hidden.mean(0)
    weight = model.head.weight
    for row, target_mean in zip(rows, means):
        w = weight[row] - (weight[row] @ mean) / (mean @ mean) * mean
        w = w * (std / (hidden @ w).std())
        if model.head.bias is not None:
            model.head.bias[row] = target_mean
        else:
            w = w + target_mean / (mean @ mean) * mean
        weight[row] = w


def export_onnx(model: TinyPhi3Judge, example: tuple[torch.Tensor, torch.Tensor]) -> bytes:
    buf = io.BytesIO()
    torch.onnx.export(
        model,
        example,
        buf,
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"},
        },
        opset_version=OPSET,
        do_constant_folding=True,
    )
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return buf.getvalue()


def build_bundle(
    name: str, head: str, seed: int, cfg: Config, tok: SlowTokenizer, rows: list[dict], prompts: list[str]
):
    seed_everything(seed)
    model = TinyPhi3Judge(cfg, head)

    # Calibration set: the 160 golden prompts as the service will feed them (with BOS,
    # plus the score prefix for the causal head).
    suffix = SCORE_PREFIX if head == "causal" else ""
    calib = [tok.encode(r["prompt"] + suffix, add_bos=True) for r in rows]
    hidden = pooled_hidden(model, calib)  # the head does not change these
    score_token_ids = None
    if head == "regression":
        # Mean 3, std 1.25: most scores in [1, 5], some outside to exercise clipping.
        calibrate_head(model, hidden, [0], std=1.25, means=[3.0])
    elif head == "classification":
        means = torch.randn(5, generator=torch.Generator().manual_seed(seed)).mul(0.75).tolist()
        calibrate_head(model, hidden, list(range(5)), std=1.5, means=means)
    else:
        score_token_ids = [tok.piece_to_id(t) for t in SCORE_TOKENS]
        assert all(i > 2 for i in score_token_ids), "score tokens missing from the vocab"
        means = torch.randn(5, generator=torch.Generator().manual_seed(seed)).mul(0.75).add(2.0).tolist()
        calibrate_head(model, hidden, score_token_ids, std=1.5, means=means)
    model.eval()

    bundle = MODELS_DIR / name
    bundle.mkdir(parents=True, exist_ok=True)

    # golden.json: torch reference outputs, left- and right-padded.
    texts = [p + suffix for p in prompts]
    seqs = [tok.encode(t, add_bos=True) for t in texts]
    golden = {"prompts": texts, "ids": seqs}
    outputs = {}
    with torch.no_grad():
        for side in ("left", "right"):
            ids, mask = pad_batch(seqs, side)
            logits = model(ids, mask)
            outputs[side] = logits
            kept = logits[:, score_token_ids] if score_token_ids else logits
            golden[side] = {
                "input_ids": ids.tolist(),
                "attention_mask": mask.tolist(),
                "logits": [[float(v) for v in row] for row in kept.double()],
            }
    lr_diff = (outputs["left"] - outputs["right"]).abs().max().item()
    assert lr_diff < 1e-5, f"{name}: left/right padding differ by {lr_diff}"
    if score_token_ids:
        golden["score_token_ids"] = score_token_ids
    write_json(bundle / "golden.json", golden, indent=None)

    onnx_bytes = export_onnx(model, pad_batch(seqs[:2], "left"))
    (bundle / "model.onnx").write_bytes(onnx_bytes)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (bundle / f).write_bytes((TOKENIZER_DIR / f).read_bytes())

    manifest = {
        "name": name,
        "version": "0.1.0",
        "head": head,
        "template": "phudge",
        "max_length": 2048,
        "score_range": [1, 5],
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
        "output": "logits",
        "model_file": "model.onnx",
        "sha256": sha256_hex(onnx_bytes),
        "untrained": True,
        "provenance": {
            "base_model": "random tiny Phi-3-style decoder (models/generate.py)",
            "revision": None,
            "adapter": None,
            "seed": seed,
            "generator": "models/generate.py",
            "torch": torch.__version__,
        },
    }
    if head == "causal":
        manifest["score_tokens"] = SCORE_TOKENS
        manifest["score_prefix"] = SCORE_PREFIX
    write_json(bundle / "judge.json", manifest)

    size = sum(p.stat().st_size for p in bundle.iterdir())
    assert size < MAX_BUNDLE_BYTES, f"{name} is {size} bytes"

    # Report the score spread over the calibration prompts (what tests will see).
    with torch.no_grad():
        out = model.head(hidden)
        if score_token_ids:
            out = out[:, score_token_ids]
    print(
        f"{name}: {size / 1024:.0f} KiB, left/right max diff {lr_diff:.2e}, "
        f"golden-prompt outputs min {out.min(0).values.numpy().round(2)} max {out.max(0).values.numpy().round(2)}"
    )
    if head == "regression":
        inside = ((out >= 1) & (out <= 5)).float().mean().item()
        print(f"  regression: {inside:.0%} of the 160 golden prompts score inside [1, 5]")


def main() -> None:
    # torch 1.13's exporter warns about the constant mask fill value; harmless.
    warnings.filterwarnings("ignore", message="The shape inference of prim::Constant type is missing")
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    tok = build_tokenizer()
    rows = load_golden_rows()
    counts = write_sp_golden_ids(tok, rows)
    print(f"tokenizer: {len(rows)} golden prompts, {min(counts)}..{max(counts)} tokens (no BOS)")
    prompts = golden_prompts(tok, rows)
    print("golden.json prompt lengths (with BOS):", [len(tok.encode(p, add_bos=True)) for p in prompts])
    for name, head, seed, cfg in BUNDLES:
        build_bundle(name, head, seed, cfg, tok, rows, prompts)


if __name__ == "__main__":
    main()
