"""Export PHUDGE weights to a judge bundle, with a parity report.

    python -m models.export.export --base DIR [--adapter DIR | --merged DIR] \\
        --head regression|classification|causal --dtype fp32|fp16 --out DIR

Local paths only: nothing is downloaded at run time. PHUDGE was trained on
microsoft/Phi-3-mini-4k-instruct *before* its July 2024 weight update: --base must be that
earlier revision (see models/README.md).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from .bundle import copy_tokenizer, write_manifest
from .wrapper import JudgeGraph

REPO = Path(__file__).resolve().parents[2]
TWO_GB = 2 * 1024**3
# Largest |PyTorch - ONNX Runtime| accepted: fp32 must agree to float rounding; fp16 keeps ~3 digits.
PARITY_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}
NUM_LABELS = {"regression": 1, "classification": 5}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="base model folder (Phi-3-mini-4k-instruct, pre-July-2024 revision)")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--adapter", type=Path, help="PEFT LoRA adapter folder, merged into --base")
    weights.add_argument("--merged", type=Path, help="a merged checkpoint folder (then --base only gives the tokenizer if it lacks one)")
    parser.add_argument("--head", choices=["regression", "classification", "causal"], default="regression")
    parser.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", default="phudge")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--base-revision", default=None, help="recorded in the provenance (a commit of the base model)")
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser.parse_args(argv)


def load_model(args: argparse.Namespace, dtype: torch.dtype) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    source = args.merged or args.base
    if args.head == "causal":
        model = AutoModelForCausalLM.from_pretrained(source, torch_dtype=dtype, local_files_only=True)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=NUM_LABELS[args.head], torch_dtype=dtype, local_files_only=True
        )
    if args.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, args.adapter, is_trainable=False).merge_and_unload()
    return model.eval()


def load_tokenizers(args: argparse.Namespace):
    from transformers import AutoTokenizer

    source = args.merged if args.merged and (args.merged / "tokenizer_config.json").exists() else args.base
    fast = AutoTokenizer.from_pretrained(source, use_fast=True, local_files_only=True)
    try:
        slow = AutoTokenizer.from_pretrained(source, use_fast=False, local_files_only=True)
    except Exception as error:  # no tokenizer.model: nothing to compare against
        print(f"warning: no slow (SentencePiece) tokenizer to compare: {error}", file=sys.stderr)
        slow = None
    return source, fast, slow


def export_onnx(graph: torch.nn.Module, out: Path, device: str) -> str | None:
    """Writes out/model.onnx; past 2 GB the weights go to one external file, model.onnx.data."""
    ids = torch.ones((2, 16), dtype=torch.long, device=device)
    mask = torch.ones_like(ids)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        torch.onnx.export(
            graph,
            (ids, mask),
            str(raw),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
        )
        proto = onnx.load(str(raw))  # gathers any external tensors torch wrote beside it
        size = sum(t.ByteSize() for t in proto.graph.initializer)
        if size < TWO_GB:
            onnx.save_model(proto, str(out / "model.onnx"))
            return None
        onnx.save_model(proto, str(out / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True, location="model.onnx.data")
        return "model.onnx.data"


def render_prompts(head: str) -> list[str]:
    script = REPO / "models" / "export" / "render_prompts.mjs"
    out = subprocess.run(["node", str(script), *(["causal"] if head == "causal" else [])], check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout)


def encode(tokenizer, prompts: list[str]) -> list[list[int]]:
    """The fleet's encoding: the text's tokens (no automatic specials) after BOS when the config adds it."""
    bos = [tokenizer.bos_token_id] if getattr(tokenizer, "add_bos_token", False) and tokenizer.bos_token_id is not None else []
    return [bos + tokenizer.encode(p, add_special_tokens=False) for p in prompts]


def pad(rows: list[list[int]], pad_id: int, side: str) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        start = width - len(row) if side == "left" else 0
        ids[i, start : start + len(row)] = row
        mask[i, start : start + len(row)] = 1
    return ids, mask


def parity(graph, out: Path, args, fast, slow, score_token_ids) -> dict:
    import onnxruntime as ort

    prompts = render_prompts(args.head)
    rows = encode(fast, prompts)
    pad_id = fast.pad_token_id if fast.pad_token_id is not None else fast.eos_token_id
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if args.device == "cuda" else ["CPUExecutionProvider"]
    session = ort.InferenceSession(str(out / "model.onnx"), providers=providers)
    report = {"prompts": len(prompts), "dtype": args.dtype, "providers": session.get_providers()}
    for side in ("left", "right"):
        ids, mask = pad(rows, pad_id, side)
        with torch.no_grad():
            expected = graph(torch.from_numpy(ids).to(args.device), torch.from_numpy(mask).to(args.device)).float().cpu().numpy()
        got = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0].astype(np.float32)
        if score_token_ids is not None:
            expected, got = expected[:, score_token_ids], got[:, score_token_ids]
        report[f"max_abs_diff_{side}"] = float(np.abs(expected - got).max())
    report["max_abs_diff"] = max(report["max_abs_diff_left"], report["max_abs_diff_right"])
    report["tolerance"] = PARITY_TOLERANCE[args.dtype]
    mismatches = []
    if slow is not None:
        for i, (prompt, fast_ids) in enumerate(zip(prompts, rows)):
            slow_ids = encode(slow, [prompt])[0]
            if slow_ids != fast_ids:
                first = next((j for j, (a, b) in enumerate(zip(slow_ids, fast_ids)) if a != b), min(len(slow_ids), len(fast_ids)))
                mismatches.append({"prompt": i, "first_difference": first, "fast": fast_ids[first : first + 8], "slow": slow_ids[first : first + 8]})
    report["tokenizer_mismatches"] = mismatches
    report["tokenizer_compared"] = slow is not None
    return report


def main(argv=None) -> int:
    args = parse_args(argv)
    dtype = torch.float16 if args.dtype == "fp16" else torch.float32
    if args.dtype == "fp16" and args.device != "cuda":
        print("warning: fp16 on CPU is slow and not what the GPU workers run; export fp16 on a GPU machine", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    model = load_model(args, dtype).to(args.device)
    tokenizer_source, fast, slow = load_tokenizers(args)
    score_tokens = ["1", "2", "3", "4", "5"] if args.head == "causal" else None
    score_token_ids = [fast.convert_tokens_to_ids(t) for t in score_tokens] if score_tokens else None
    graph = JudgeGraph(model, args.head).eval()
    external = export_onnx(graph, args.out, args.device)
    with tempfile.TemporaryDirectory() as tmp:
        fast.save_pretrained(tmp)
        copy_tokenizer(Path(tmp), args.out)
    import peft  # noqa: F401  (recorded below)
    import transformers

    manifest = write_manifest(
        args.out,
        name=args.name,
        version=args.version,
        head=args.head,
        max_length=args.max_length,
        external_data=external,
        score_tokens=score_tokens,
        provenance={
            "base_model": str(args.base),
            "base_model_name": getattr(model.config, "_name_or_path", None),
            "revision": args.base_revision,
            "adapter": str(args.adapter) if args.adapter else None,
            "merged_checkpoint": str(args.merged) if args.merged else None,
            "tokenizer": str(tokenizer_source),
            "dtype": args.dtype,
            "exporter": "models/export/export.py",
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__, "onnx": onnx.__version__},
        },
    )
    report = parity(graph, args.out, args, fast, slow, score_token_ids)
    (args.out / "parity.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"bundle": str(args.out), "sha256": manifest["sha256"], "parity": report}, indent=2))
    if report["max_abs_diff"] > report["tolerance"]:
        print(f"parity FAILED: {report['max_abs_diff']:.3g} > {report['tolerance']}", file=sys.stderr)
        return 1
    if report["tokenizer_mismatches"]:
        print(f"warning: fast and slow tokenizers differ on {len(report['tokenizer_mismatches'])} prompts (see parity.json)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
