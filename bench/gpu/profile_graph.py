"""Where a judge bundle's graph spends its time: ONNX Runtime's own profiler over the fleet's
batches of the first N Vicuna items, on the CPU, summed by op type.

    python bench/gpu/profile_graph.py BUNDLE_DIR [--items 32] [--threads 1]

Prints one JSON: the ops of the optimized graph by type (what ONNX Runtime runs after its own
fusions), and for each op type its share of the kernel time, calls and milliseconds per pass.
"""
from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
# Passes over the batches, averaged (the first also pays for allocation).
PASSES = 2


def main(argv=None) -> int:
    import onnx
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    result = subprocess.run(["node", str(REPO / "bench" / "gpu" / "batches.mjs"), str(args.bundle), str(args.items)],
                            cwd=REPO, capture_output=True, text=True, check=True)
    batches = [(np.array(b["input_ids"], dtype=np.int64), np.array(b["attention_mask"], dtype=np.int64))
               for b in json.loads(result.stdout)["batches"]]

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = args.threads
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(args.bundle / "model.onnx"), options, providers=["CPUExecutionProvider"])
        for _ in range(PASSES):
            for ids, mask in batches:
                session.run(["logits"], {"input_ids": ids, "attention_mask": mask})
        profile_file = session.end_profiling()
        events = json.loads(Path(profile_file).read_text())
        optimized = onnx.load(str(Path(tmp) / "optimized.onnx"), load_external_data=False)

    per_op: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            entry = per_op[event["args"]["op_name"]]
            entry[0] += event["dur"] / 1000 / PASSES
            entry[1] += 1 / PASSES
    total = sum(ms for ms, _ in per_op.values())
    report = {
        "bundle": str(args.bundle),
        "items": args.items,
        "batches": len(batches),
        "threads": args.threads,
        "kernel_ms_per_pass": round(total, 1),
        "optimized_graph_ops": dict(collections.Counter(n.op_type for n in optimized.graph.node).most_common()),
        "by_op_type": {
            op: {"share": round(ms / total, 3), "ms": round(ms, 1), "calls": round(calls)}
            for op, (ms, calls) in sorted(per_op.items(), key=lambda item: -item[1][0])
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
