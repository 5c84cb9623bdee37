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
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from . import fused_graph
from .bundle import CAUSAL_SCORE_TOKENS, copy_tokenizer, write_manifest
from .fleet_inputs import fleet_inputs
from .match_slow import match_slow_tokenizer
from .wrapper import JudgeGraph

# The opset torch's dynamo exporter writes natively (converting down to 17 fails on Phi-3).
OPSET = 18
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
    parser.add_argument("--external-data", action="store_true", help="always put the weights in model.onnx.data (default: only past 2 GB)")
    parser.add_argument(
        "--graph",
        choices=["fused", "torch"],
        default="fused",
        help="fused: ONNX Runtime's fused attention and norms, written from the weights (default; Phi-3 only); "
        "torch: torch's dynamo exporter, op by op (any model transformers runs, slower)",
    )
    parser.add_argument(
        "--full-last-layer",
        action="store_true",
        help="fused graph: run the last layer at every position (default: at the pooled position only)",
    )
    parser.add_argument(
        "--match-slow-tokenizer",
        action="store_true",
        help="rewrite the bundle's tokenizer to give the slow SentencePiece tokenizer's ids (see models/README.md)",
    )
    args = parser.parse_args(argv)
    sources = {p.resolve() for p in (args.base, args.adapter, args.merged) if p}
    for source in sorted(sources):
        if not source.is_dir():
            parser.error(f"{source} is not a folder: the exporter reads local folders only")
    if args.out.resolve() in sources:
        parser.error(f"--out {args.out} is one of the source folders: choose a new folder for the bundle")
    return args


def load_model(args: argparse.Namespace, dtype: torch.dtype) -> torch.nn.Module:
    import transformers
    from packaging.version import Version
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    source = args.merged or args.base
    # transformers 4.56 renamed torch_dtype to dtype.
    dtype_arg = {"dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype": dtype}
    if args.head == "causal":
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, **dtype_arg)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=NUM_LABELS[args.head], local_files_only=True, **dtype_arg
        )
    if args.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, args.adapter, is_trainable=False).merge_and_unload()
    return model.eval()


TOKENIZER_SOURCE_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def tokenizer_source(args: argparse.Namespace) -> Path:
    """The merged checkpoint's tokenizer only where it is complete. A checkpoint saved by
    transformers 5 has no tokenizer.model (nothing to compare against) and a tokenizer_config
    without `legacy` and `added_tokens_decoder` (the tokens workers neutralize): then --base's."""
    if args.merged and all((args.merged / f).exists() for f in TOKENIZER_SOURCE_FILES):
        config = json.loads((args.merged / "tokenizer_config.json").read_text(encoding="utf-8"))
        if "added_tokens_decoder" in config:
            return args.merged
    if args.merged:
        print(f"tokenizer: {args.merged} has no complete tokenizer; using {args.base}'s", file=sys.stderr)
    return args.base


def write_tokenizer(source: Path, out: Path) -> None:
    """The source's own tokenizer files, byte for byte. Only a source without tokenizer.json gets
    one converted from tokenizer.model by transformers; tokenizer_config.json is always the
    source's, since transformers 5 re-saves it without the added tokens the fleet sanitizes."""
    if (source / "tokenizer.json").exists():
        copy_tokenizer(source, out)
        return
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        AutoTokenizer.from_pretrained(source, use_fast=True, local_files_only=True).save_pretrained(tmp)
        shutil.copyfile(Path(tmp) / "tokenizer.json", out / "tokenizer.json")
    shutil.copyfile(source / "tokenizer_config.json", out / "tokenizer_config.json")


def score_token_ids(out: Path, score_tokens: list[str] | None) -> list[int] | None:
    if not score_tokens:
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    ids = [tokenizer.token_to_id(t) for t in score_tokens]
    if None in ids:
        raise SystemExit(f"score tokens {score_tokens} are not all in the vocabulary: {ids}")
    return ids


def export_fused(model, out: Path, args, dtype: torch.dtype) -> str | None:
    """Writes out/model.onnx as the fused graph (models/export/fused_graph.py)."""
    proto = fused_graph.build_judge_graph(model, args.head, dtype, args.max_length, prune_last_layer=not args.full_last_layer)
    return fused_graph.save(proto, out, args.external_data)


def export_onnx(graph: torch.nn.Module, out: Path, device: str, max_length: int, external: bool) -> str | None:
    """Writes out/model.onnx through torch's dynamo exporter with dynamic batch and sequence axes; the weights go to one external
    file, model.onnx.data, past 2 GB (or always, with --external-data)."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    sequence = torch.export.Dim("sequence", min=2, max=max_length)
    ids = torch.ones((2, 16), dtype=torch.long, device=device)
    program = torch.onnx.export(
        graph,
        (ids, torch.ones_like(ids)),
        dynamo=True,
        opset_version=OPSET,
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_shapes={"input_ids": {0: batch, 1: sequence}, "attention_mask": {0: batch, 1: sequence}},
    )
    data = out / "model.onnx.data"
    data.unlink(missing_ok=True)  # a stale one from an earlier export would be taken for ours
    program.save(str(out / "model.onnx"), external_data=True if external else None)
    return data.name if data.exists() else None


def pad(rows: list[list[int]], pad_id: int, side: str) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        start = width - len(row) if side == "left" else 0
        ids[i, start : start + len(row)] = row
        mask[i, start : start + len(row)] = 1
    return ids, mask


def unpadded_scores(model, rows: list[list[int]], device: str, head: str) -> np.ndarray:
    """The transformers model's own forward, one unpadded prompt at a time: the reference the
    padded, pooled graph must reproduce."""
    scores = []
    with torch.no_grad():
        for row in rows:
            logits = model(input_ids=torch.tensor([row], device=device)).logits
            scores.append((logits[0, -1] if head == "causal" else logits[0]).float().cpu().numpy())
    return np.stack(scores)


def tokenizer_mismatches(inputs: dict, source: Path) -> tuple[list[dict], str | None]:
    """Every prompt on which the fleet's ids differ from the slow SentencePiece tokenizer's."""
    if not (source / "tokenizer.model").exists():
        return [], f"{source} has no tokenizer.model: the slow tokenizer cannot be compared"
    try:
        from .slow_tokenizer import SlowLlamaTokenizer
    except ImportError as error:
        return [], f"the slow tokenizer needs sentencepiece and protobuf: {error}"
    slow = SlowLlamaTokenizer(source)
    # Compared inside the fleet's own framing: the bos/eos its tokenizer put around each prompt.
    bos = [inputs["bos_id"]] if inputs["bos_id"] is not None else []
    eos = [inputs["eos_id"]] if inputs["eos_id"] is not None else []
    mismatches = []
    for i, (prompt, fleet_ids) in enumerate(zip(inputs["prompts"], inputs["ids"])):
        slow_ids = bos + slow.encode(prompt) + eos
        if slow_ids != fleet_ids:
            first = next((j for j, (a, b) in enumerate(zip(slow_ids, fleet_ids)) if a != b), min(len(slow_ids), len(fleet_ids)))
            mismatches.append(
                {"prompt": i, "first_difference": first, "fleet": fleet_ids[first : first + 8], "slow": slow_ids[first : first + 8], "fleet_length": len(fleet_ids), "slow_length": len(slow_ids)}
            )
    return mismatches, None


def parity(graph, model, out: Path, args, score_ids, source: Path) -> dict:
    import onnxruntime as ort

    inputs = fleet_inputs(out)
    rows = inputs["ids"]
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if args.device == "cuda" else ["CPUExecutionProvider"]
    session = ort.InferenceSession(str(out / "model.onnx"), providers=providers)
    pick = (lambda scores: scores[:, score_ids]) if score_ids else (lambda scores: scores)
    report = {
        "prompts": len(rows),
        "prompt_tokens": [min(map(len, rows)), max(map(len, rows))],
        "dtype": args.dtype,
        "providers": session.get_providers(),
        "sliding_window": getattr(model.config, "sliding_window", None),
    }
    onnx_scores = {}
    for side in ("left", "right"):
        ids, mask = pad(rows, inputs["pad_id"], side)
        with torch.no_grad():
            expected = graph(torch.from_numpy(ids).to(args.device), torch.from_numpy(mask).to(args.device)).cpu().numpy()
        onnx_scores[side] = pick(session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0])
        report[f"max_abs_diff_{side}"] = float(np.abs(pick(expected) - onnx_scores[side]).max())
    # The fleet pads on the tokenizer's side; the model alone, unpadded, is what it must match.
    reference = pick(unpadded_scores(model, rows, args.device, args.head))
    report["max_abs_diff_unpadded"] = float(np.abs(reference - onnx_scores[inputs["padding_side"]]).max())
    report["max_abs_diff"] = max(report["max_abs_diff_left"], report["max_abs_diff_right"], report["max_abs_diff_unpadded"])
    report["tolerance"] = PARITY_TOLERANCE[args.dtype]
    mismatches, why_not = tokenizer_mismatches(inputs, source)
    report["tokenizer_compared"] = why_not is None
    if why_not:
        report["tokenizer_not_compared"] = why_not
    report["tokenizer_reference"] = "transformers 4 slow LlamaTokenizer (models/export/slow_tokenizer.py)"
    report["tokenizer_mismatches"] = mismatches
    return report


def main(argv=None) -> int:
    args = parse_args(argv)
    dtype = torch.float16 if args.dtype == "fp16" else torch.float32
    if args.dtype == "fp16" and args.device != "cuda":
        print("warning: fp16 on CPU is slow and not what the GPU workers run; export fp16 on a GPU machine", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    model = load_model(args, dtype).to(args.device)
    source = tokenizer_source(args)
    write_tokenizer(source, args.out)
    text_prefix = match_slow_tokenizer(args.out) if args.match_slow_tokenizer else None
    score_tokens = CAUSAL_SCORE_TOKENS if args.head == "causal" else None
    score_ids = score_token_ids(args.out, score_tokens)
    graph = JudgeGraph(model, args.head).eval()
    if args.graph == "fused":
        why_not = fused_graph.supported(model)
        if why_not:
            raise SystemExit(f"--graph fused cannot write this model: {why_not}; export it with --graph torch")
        external = export_fused(model, args.out, args, dtype)
    else:
        external = export_onnx(graph, args.out, args.device, args.max_length, args.external_data)
    manifest = write_manifest(
        args.out,
        name=args.name,
        version=args.version,
        head=args.head,
        max_length=args.max_length,
        external_data=external,
        score_tokens=score_tokens,
        text_prefix=text_prefix,
        provenance=provenance(args, model, source),
    )
    report = parity(graph, model, args.out, args, score_ids, source)
    (args.out / "parity.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"bundle": str(args.out), "sha256": manifest["sha256"], "parity": report}, indent=2))
    if report["max_abs_diff"] > report["tolerance"]:
        print(f"parity FAILED: {report['max_abs_diff']:.3g} > {report['tolerance']}", file=sys.stderr)
        return 1
    if not report["tokenizer_compared"]:
        print(f"warning: tokenizers not compared: {report['tokenizer_not_compared']}", file=sys.stderr)
    if report["tokenizer_mismatches"]:
        print(
            f"warning: the fleet's tokenizer and the slow SentencePiece tokenizer differ on "
            f"{len(report['tokenizer_mismatches'])} of {report['prompts']} prompts (see parity.json"
            f"{'' if args.match_slow_tokenizer else '; --match-slow-tokenizer makes the bundle follow the slow one'})",
            file=sys.stderr,
        )
    return 0


def provenance(args: argparse.Namespace, model, source: Path) -> dict:
    import transformers

    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "onnx": onnx.__version__}
    if args.adapter:
        import peft

        versions["peft"] = peft.__version__
    return {
        "base_model": str(args.base),
        "base_model_name": getattr(model.config, "_name_or_path", None),
        "revision": args.base_revision,
        "adapter": str(args.adapter) if args.adapter else None,
        "merged_checkpoint": str(args.merged) if args.merged else None,
        "tokenizer": str(source),
        "dtype": args.dtype,
        "opset": OPSET,
        "graph": args.graph,
        **({"fused_ops": list(fused_graph.FUSED_OPS), "last_layer": "full" if args.full_last_layer else "pooled position"} if args.graph == "fused" else {}),
        "tokenizer_matches_slow": args.match_slow_tokenizer,
        "exporter": "models/export/export.py",
        "versions": versions,
    }


if __name__ == "__main__":
    sys.exit(main())
