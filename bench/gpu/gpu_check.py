"""GPU check: how close the fleet's engine comes to the GPU's limit on a full-size judge.

    python bench/gpu/gpu_check.py [--out gpu.json]      # an NVIDIA GPU, no network needed
    python bench/gpu/gpu_check.py --smoke               # the same path on the CPU, 2 small layers

1. Builds a Phi-3-mini-shaped judge with random weights (32 layers, hidden 3072, MLP 8192,
   vocabulary 32064, fp16) and the project's test tokenizer, and exports it through the
   project's own exporter (python -m models.export.export), parity check included.
2. Cuts the first Vicuna items into model batches with the fleet's own code (bench/gpu/batches.mjs:
   template, tokenizer, truncation, batcher, padding, at the worker's default limits).
3. Runs those batches through ONNX Runtime's CUDA provider, then through transformers' PyTorch
   model (SDPA attention, wrapped to pool as the exported graph does) as the peer, and grades the
   same items through the Node worker's engine path (onnxruntime-node's CUDA provider) where its
   CUDA libraries can be found.

Prints one JSON (and writes it to --out): items/s, tokens/s and MFU for each path. MFU counts the
useful FLOPs of the real (unpadded) tokens, 2 x matmul parameters per token plus attention's
4 x layers x hidden x length^2 per prompt, over the GPU's dense fp16 tensor peak, looked up from
the device name (--peak-tflops for a GPU the table does not know).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
TOKENIZER = REPO / "models" / "tokenizer"
ORT_NODE_BIN = REPO / "node_modules" / "onnxruntime-node" / "bin" / "napi-v6" / "linux" / "x64"
# The CUDA provider of ONNX Runtime and the bridge it loads through, beside libonnxruntime.
ORT_CUDA_LIBS = ("libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so")

PHI3 = dict(max_position_embeddings=4096, rope_theta=10000.0, rms_norm_eps=1e-5, sliding_window=2047)
SHAPES = {
    # microsoft/Phi-3-mini-4k-instruct's shape (3.8 B parameters), with the test tokenizer's ids
    # (all under 4011) inside its 32064-token embedding, so the parameter count is the real one.
    "phi3-mini": dict(PHI3, vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=32),
    # --smoke: the same code path on a model a CPU runs in seconds.
    "smoke": dict(PHI3, vocab_size=4011, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=4),
    # npm run bench's engine_vs_pytorch: a small Phi-3-shaped judge (4.4 M parameters) ...
    "small": dict(PHI3, vocab_size=4011, hidden_size=256, intermediate_size=768, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=4),
    # ... and engine_vs_pytorch_wide: Phi-3-mini's widths with one layer.
    "wide": dict(PHI3, vocab_size=4011, hidden_size=3072, intermediate_size=8192, num_hidden_layers=1,
                 num_attention_heads=32, num_key_value_heads=32),
}
PATHS = ("onnxruntime", "pytorch", "node")

# Dense (no sparsity) fp16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets. The first
# name contained in the device name wins, so the more specific names come first.
FP16_DENSE_PEAK_TFLOPS = [
    ("GB200", 2500), ("B200", 2250), ("B100", 1750),
    ("H100 PCIe", 756), ("H100 NVL", 835), ("GH200", 989), ("H200", 989), ("H100", 989), ("H800", 989),
    ("A100", 312), ("A800", 312), ("A30", 165),
    ("L40S", 362), ("L40", 181), ("L4", 121),
    ("A10G", 70), ("A10", 125), ("A6000", 155), ("RTX 6000 Ada", 364), ("RTX 4090", 165),
    ("V100", 125), ("T4", 65),
]
# The whole check must fit in 8 minutes; a phase that would start past this is skipped.
BUDGET_S = 8 * 60


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="CPU, fp32, 2 layers, small widths, 16 items")
    parser.add_argument("--shape", choices=sorted(SHAPES), help="the judge's shape (default phi3-mini, smoke with --smoke)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, of {', '.join(PATHS)} (default all)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--items", type=int, help="Vicuna items graded (default 160, 16 with --smoke)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per path; the median is reported")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for ONNX Runtime and torch (0: their default)")
    parser.add_argument("--graph", choices=["fused", "torch"], default="fused", help="the exporter's --graph (default fused)")
    parser.add_argument("--full-last-layer", action="store_true", help="the exporter's --full-last-layer: the last layer at every position")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense fp16 peak, where the table does not know it")
    parser.add_argument("--work", type=Path, help="folder for the weights and the bundle (default: a temporary one, removed)")
    parser.add_argument(
        "--node-cuda-from-python",
        action="store_true",
        help="copy ONNX Runtime's CUDA provider from this Python's onnxruntime-gpu into onnxruntime-node "
        "(same version only), for machines where its install script cannot download it",
    )
    args = parser.parse_args(argv)
    args.paths = [path for path in args.paths.split(",") if path]
    unknown = set(args.paths) - set(PATHS)
    if unknown or not args.paths:
        parser.error(f"--paths takes some of {', '.join(PATHS)}, not {args.paths}")
    return args


class Clock:
    """Seconds per phase, and whether the 8-minute budget leaves room for another."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: dict[str, float] = {}

    def phase(self, name: str, run):
        began = time.perf_counter()
        try:
            return run()
        finally:
            self.phases[name] = round(time.perf_counter() - began, 1)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def dtype_arg(dtype: torch.dtype) -> dict:
    import transformers
    from packaging.version import Version

    # transformers 4.56 renamed torch_dtype to dtype.
    return {"dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype": dtype}


def make_judge_weights(out: Path, shape: dict, dtype: torch.dtype, device: str) -> None:
    """A random Phi3ForSequenceClassification (one regression output) saved as real weights are,
    with the test tokenizer: the exporter's --base."""
    from transformers import Phi3Config, Phi3ForSequenceClassification

    torch.manual_seed(0)
    config = Phi3Config(**shape, pad_token_id=4000, bos_token_id=1, eos_token_id=4000, num_labels=1)
    with torch.device(device):  # built where it runs: a full-size fp32 copy on the host is 15 GB
        model = Phi3ForSequenceClassification._from_config(config, **dtype_arg(dtype)).eval()
    model.save_pretrained(out)
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TOKENIZER / file, out / file)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()


def export_bundle(base: Path, bundle: Path, dtype: str, device: str, graph: str, full_last_layer: bool) -> dict:
    """The project's exporter, run as a user runs it; returns its parity report."""
    command = [sys.executable, "-m", "models.export.export", "--base", str(base), "--head", "regression",
               "--dtype", dtype, "--device", device, "--out", str(bundle), "--graph", graph]
    if full_last_layer:
        command.append("--full-last-layer")
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    parity_file = bundle / "parity.json"
    if not parity_file.exists():  # parity failing still writes the bundle and its report
        raise SystemExit(f"export failed ({result.returncode}):\n{result.stderr[-4000:]}")
    parity = json.loads(parity_file.read_text())
    parity["passed"] = result.returncode == 0
    return parity


def fleet_batches(bundle: Path, items: int) -> dict:
    result = subprocess.run(["node", str(REPO / "bench" / "gpu" / "batches.mjs"), str(bundle), str(items)],
                            cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"batches.mjs failed (has `npm install` been run?):\n{result.stderr[-4000:]}")
    data = json.loads(result.stdout)
    data["arrays"] = [
        (np.array(b["input_ids"], dtype=np.int64), np.array(b["attention_mask"], dtype=np.int64)) for b in data["batches"]
    ]
    return data


def timed_passes(run_batch, arrays, repeats: int) -> tuple[dict, list[np.ndarray]]:
    """One warm-up pass (allocators, kernel choices for these shapes), then `repeats` timed ones:
    {"runs_s": wall seconds, "cpu_runs_s": this process's CPU seconds}, each sorted."""
    outputs = [run_batch(ids, mask) for ids, mask in arrays]
    seconds, cpu_seconds = [], []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        for ids, mask in arrays:
            run_batch(ids, mask)
        seconds.append(time.perf_counter() - began)
        cpu_seconds.append(time.process_time() - began_cpu)
    return {"runs_s": sorted(seconds), "cpu_runs_s": sorted(cpu_seconds)}, outputs


def run_onnxruntime(bundle: Path, arrays, device: str, threads: int, repeats: int) -> tuple[dict, list[np.ndarray]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    providers = [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    session = ort.InferenceSession(str(bundle / "model.onnx"), options, providers=providers)
    provider = session.get_providers()[0]
    if device == "cuda" and provider != "CUDAExecutionProvider":
        raise SystemExit(f"ONNX Runtime has no CUDA provider here (providers {ort.get_available_providers()}): install onnxruntime-gpu")
    runs, outputs = timed_passes(
        lambda ids, mask: session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0], arrays, repeats
    )
    del session
    return {"provider": provider, "onnxruntime": ort.__version__, **runs}, outputs


def run_pytorch(base: Path, arrays, dtype: torch.dtype, device: str, threads: int, repeats: int) -> tuple[dict, list[np.ndarray]]:
    import transformers
    from transformers import Phi3ForSequenceClassification

    sys.path.insert(0, str(REPO))
    from models.export.wrapper import JudgeGraph

    if threads:
        torch.set_num_threads(threads)
    model = Phi3ForSequenceClassification.from_pretrained(
        base, attn_implementation="sdpa", local_files_only=True, **dtype_arg(dtype)
    ).to(device).eval()
    graph = JudgeGraph(model, "regression").eval()

    def run_batch(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():  # .cpu() waits for the GPU, as session.run does
            return graph(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)).cpu().numpy()

    runs, outputs = timed_passes(run_batch, arrays, repeats)
    del graph, model
    if device == "cuda":
        torch.cuda.empty_cache()
    return {"attention": "sdpa", "torch": torch.__version__, "transformers": transformers.__version__, **runs}, outputs


def nvidia_library_dirs() -> list[str]:
    """CUDA runtime libraries that pip's nvidia-* packages (torch's, onnxruntime-gpu's) put in
    site-packages: onnxruntime-node's CUDA provider needs the same cuBLAS, cuDNN and cudart."""
    import site

    dirs = []
    for root in site.getsitepackages():
        nvidia = Path(root) / "nvidia"
        if nvidia.is_dir():
            dirs += sorted(str(lib) for lib in nvidia.glob("*/lib") if lib.is_dir())
    return dirs


def node_cuda_libraries(copy_from_python: bool) -> str | None:
    """None when onnxruntime-node has its CUDA provider, else why the Node path cannot run on CUDA."""
    if all((ORT_NODE_BIN / lib).exists() for lib in ORT_CUDA_LIBS):
        return None
    install = "ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js (needs the network)"
    if not copy_from_python:
        return f"onnxruntime-node has no CUDA provider in {ORT_NODE_BIN}: run {install}, or rerun with --node-cuda-from-python"
    import onnxruntime as ort

    node_version = json.loads((REPO / "node_modules" / "onnxruntime-node" / "package.json").read_text())["version"]
    capi = Path(ort.__file__).parent / "capi"
    if ort.__version__ != node_version or not all((capi / lib).exists() for lib in ORT_CUDA_LIBS):
        return (f"onnxruntime-node {node_version} has no CUDA provider, and this Python's onnxruntime {ort.__version__} "
                f"has no matching one to copy ({capi}): run {install}")
    for lib in ORT_CUDA_LIBS:
        shutil.copyfile(capi / lib, ORT_NODE_BIN / lib)
    return None


def run_node(bundle: Path, items: int, device: str, threads: int, repeats: int, copy_from_python: bool) -> dict:
    node_device = "cuda:0" if device == "cuda" else "cpu"
    if device == "cuda":
        why_not = node_cuda_libraries(copy_from_python)
        if why_not:
            return {"skipped": why_not}
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(nvidia_library_dirs() + [env.get("LD_LIBRARY_PATH", "")]).strip(":")
    command = ["node", str(REPO / "bench" / "gpu" / "node-worker.mjs"), str(bundle), str(items), node_device, str(threads), str(repeats)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return {"skipped": f"node-worker.mjs failed ({result.returncode}): {result.stderr.strip()[-2000:]}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def matmul_parameters(shape: dict) -> int:
    """Weights multiplied per token: the decoder layers' projections and the score head (the
    embedding is a lookup, not a matmul)."""
    h, m, layers = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    per_layer = h * 3 * h + h * h + h * 2 * m + m * h  # qkv_proj, o_proj, gate_up_proj, down_proj
    return layers * per_layer + h  # + the one-output score head


def useful_flops(shape: dict, prompt_tokens: list[int]) -> float:
    """Forward FLOPs of the real tokens: 2 per weight per token, plus QK^T and AV per layer."""
    attention = 4 * shape["num_hidden_layers"] * shape["hidden_size"]
    return float(sum(2 * matmul_parameters(shape) * n + attention * n * n for n in prompt_tokens))


def gpu_peak(device_name: str | None, override: float | None) -> tuple[float | None, str]:
    if override:
        return override, "--peak-tflops"
    for name, tflops in FP16_DENSE_PEAK_TFLOPS:
        if device_name and name.lower() in device_name.lower():
            return float(tflops), f"table: {name}"
    return None, "unknown device: pass --peak-tflops"


def rates(path: dict, items: int, real_tokens: int, flops: float, peak_tflops: float | None) -> dict:
    seconds = path["runs_s"][len(path["runs_s"]) // 2]
    cpu_seconds = path["cpu_runs_s"][len(path["cpu_runs_s"]) // 2] if path.get("cpu_runs_s") else None
    return {
        "items_per_s": items / seconds,
        # Items per second of the process's CPU time: on a CPU that other work shares, what the
        # path would do alone (with --threads 1 it is items/s on an idle core).
        "items_per_cpu_s": items / cpu_seconds if cpu_seconds else None,
        "tokens_per_s": real_tokens / seconds,
        "tflops": flops / seconds / 1e12,
        "mfu": flops / seconds / (peak_tflops * 1e12) if peak_tflops else None,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def main(argv=None) -> int:
    args = parse_args(argv)
    clock = Clock()
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible to torch: run on an NVIDIA GPU machine with a CUDA build of torch, or pass --smoke")
    shape_name = args.shape or ("smoke" if args.smoke else "phi3-mini")
    shape = SHAPES[shape_name]
    dtype_name = "fp32" if args.smoke else "fp16"  # CPU kernels for fp16 are slow and not what workers run
    dtype = torch.float32 if args.smoke else torch.float16
    items = args.items or (16 if args.smoke else 160)
    device_name = torch.cuda.get_device_name(0) if device == "cuda" else None
    peak, peak_source = gpu_peak(device_name, args.peak_tflops)

    work = args.work or Path(tempfile.mkdtemp(prefix="phudge-gpu-"))
    base, bundle = work / "weights", work / "bundle"
    try:
        clock.phase("weights", lambda: make_judge_weights(base, shape, dtype, device))
        parity = clock.phase("export", lambda: export_bundle(base, bundle, dtype_name, device, args.graph, args.full_last_layer))
        batches = clock.phase("batches", lambda: fleet_batches(bundle, items))
        arrays = batches["arrays"]
        flops = useful_flops(shape, batches["item_tokens"])
        common = (items, batches["real_tokens"], flops, peak)

        reports: dict[str, dict] = {}
        scores: dict[str, list[np.ndarray]] = {}
        if "onnxruntime" in args.paths:
            reports["onnxruntime"], scores["onnxruntime"] = clock.phase(
                "onnxruntime", lambda: run_onnxruntime(bundle, arrays, device, args.threads, args.repeats)
            )
        if "pytorch" in args.paths:
            reports["pytorch"], scores["pytorch"] = clock.phase(
                "pytorch", lambda: run_pytorch(base, arrays, dtype, device, args.threads, args.repeats)
            )
        if len(scores) == 2:  # the peer computes the same scores: otherwise its speed says nothing
            reports["pytorch"]["max_abs_diff_vs_onnxruntime"] = float(
                max(np.abs(a - b).max() for a, b in zip(scores["onnxruntime"], scores["pytorch"]))
            )
        if "node" in args.paths:
            if clock.elapsed() < BUDGET_S - 60:
                reports["node_worker"] = clock.phase(
                    "node", lambda: run_node(bundle, items, device, args.threads, args.repeats, args.node_cuda_from_python)
                )
            else:
                reports["node_worker"] = {"skipped": f"the check had run {clock.elapsed():.0f} s of its {BUDGET_S} s budget"}
        for path in reports.values():
            if "runs_s" in path:
                path.update(rates(path, *common))
        items_per_s = {name: path.get("items_per_s") for name, path in reports.items()}
        items_per_cpu_s = {name: path.get("items_per_cpu_s") for name, path in reports.items()}

        report = {
            "smoke": args.smoke,
            "shape": shape_name,
            "threads": args.threads,
            "device": device_name or "cpu",
            "peak_fp16_tflops": peak,
            "peak_source": peak_source,
            "model": {
                **{k: shape[k] for k in ("num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads", "vocab_size")},
                "dtype": dtype_name,
                "graph": args.graph,
                "last_layer": "full" if args.full_last_layer or args.graph == "torch" else "pooled position",
                "parameters": matmul_parameters(shape) + shape["vocab_size"] * shape["hidden_size"],
                "matmul_parameters": matmul_parameters(shape),
            },
            "parity": {k: parity.get(k) for k in ("max_abs_diff", "tolerance", "passed", "providers")},
            "workload": {
                "items": items,
                "batches": len(arrays),
                "real_tokens": batches["real_tokens"],
                "padded_tokens": batches["padded_tokens"],
                "padding_efficiency": batches["real_tokens"] / batches["padded_tokens"],
                "tokens_per_item": batches["real_tokens"] / items,
                "useful_tflop_per_item": flops / items / 1e12,
            },
            **reports,
            # Items/s over PyTorch's on the same batches (null where a path did not run).
            "onnxruntime_vs_pytorch": ratio(items_per_s.get("onnxruntime"), items_per_s.get("pytorch")),
            "node_worker_vs_pytorch": ratio(items_per_s.get("node_worker"), items_per_s.get("pytorch")),
            # The same per CPU second of each process: what npm run bench reports on the CPU.
            "node_worker_vs_pytorch_cpu": ratio(items_per_cpu_s.get("node_worker"), items_per_cpu_s.get("pytorch")),
            "phases_s": clock.phases,
            "total_s": round(clock.elapsed(), 1),
        }
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
