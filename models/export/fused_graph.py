"""The judge graph built directly with ONNX Runtime's fused transformer ops, from a Phi-3 model's
weights: what the exporter writes by default (`--graph fused`).

Why not torch's exporter: it traces attention as separate MatMul / Add / Softmax / Where / IsNaN /
MatMul nodes over [batch, heads, sequence, sequence] tensors, after the [batch, 1, sequence,
sequence] mask transformers builds from attention_mask, RMSNorm as six ops and rotary as a dozen;
ONNX Runtime's CPU provider runs each as its own pass over memory, and on the bench's judge the
attention's share of the time was over half (models/README.md, "The graph", has the profile).
This graph uses, per layer:

- `GroupQueryAttention` (com.microsoft): causal attention with rotary embedding (do_rotary) and
  Phi-3's sliding window (local_window_size) in one kernel, on the packed qkv projection. It takes
  each row's real length (seqlens_k) and expects right padding, so the graph first moves every
  row's tokens to the left (a GatherElements on input_ids): left and right padding give the same
  score, and no [sequence, sequence] mask is built at all.
- `SimplifiedLayerNormalization` (RMSNorm) and `SkipSimplifiedLayerNormalization` (residual add +
  RMSNorm in one pass).

The last layer runs in full for keys and values only: the judge pools the last real token, so
that layer's query, attention, o_proj and MLP are computed at that one position
(`prune_last_layer`). Every op here has CPU and CUDA kernels in ONNX Runtime (fp32 and fp16 on
CPU; GroupQueryAttention on CUDA is fp16/bf16, which is what GPU workers run).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

# onnx writes its newest IR version by default, newer than ONNX Runtime reads; 10 is read from 1.20 on.
IR_VERSION = 10
OPSET = 18
MS_DOMAIN = "com.microsoft"
# The fused ops this graph is made of; the export test checks they are all present.
FUSED_OPS = ("GroupQueryAttention", "SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization")


class UnsupportedModel(ValueError):
    """The model is not one this builder knows how to write (use --graph torch)."""


def supported(model) -> str | None:
    """None when the builder can write this model, else why not."""
    config = model.config
    if config.model_type != "phi3":
        return f"model_type {config.model_type!r} (the fused graph is written for Phi-3)"
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type != "default":
        return f"rope type {rope_type!r} (only the default rotary embedding: Phi-3-mini-4k's)"
    if getattr(config, "partial_rotary_factor", 1.0) != 1.0:
        return "partial rotary embedding"
    head_dim = config.hidden_size // config.num_attention_heads
    if head_dim % 16:
        return f"head size {head_dim} (GroupQueryAttention's rotary needs a multiple of 16)"
    return None


class Builder:
    """Nodes and initializers of one graph, with unique names."""

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def weight(self, name: str, tensor: torch.Tensor) -> str:
        array = tensor.detach().to("cpu", self.dtype).contiguous().numpy()
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def constant(self, values, dtype=np.int64) -> str:
        name = self.name("const")
        self.initializers.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], outputs: int | list[str] = 1, domain: str = "", **attrs) -> list[str]:
        names = [self.name(op_type.lower()) for _ in range(outputs)] if isinstance(outputs, int) else outputs
        self.nodes.append(helper.make_node(op_type, inputs, names, name=self.name(op_type), domain=domain, **attrs))
        return names

    def one(self, op_type: str, inputs: list[str], domain: str = "", **attrs) -> str:
        return self.op(op_type, inputs, 1, domain, **attrs)[0]


def rotary_caches(model, max_length: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of position x inverse frequency, [max_length, head_dim / 2], computed as
    transformers' Phi3RotaryEmbedding does (fp32, then the weights' dtype)."""
    rotary = model.model.rotary_emb
    inv_freq = rotary.inv_freq.detach().float().cpu()
    positions = torch.arange(max_length, dtype=torch.float32)
    freqs = positions[:, None] * inv_freq[None, :]
    scaling = float(getattr(rotary, "attention_scaling", 1.0))
    return (freqs.cos() * scaling).to(dtype), (freqs.sin() * scaling).to(dtype)


class JudgeGraphWriter:
    """Writes one Phi-3 judge (a transformers model in eval mode) as the fused graph."""

    def __init__(self, model, head: str, dtype: torch.dtype, max_length: int, prune_last_layer: bool):
        why_not = supported(model)
        if why_not:
            raise UnsupportedModel(why_not)
        config = model.config
        self.model, self.head, self.dtype = model, head, dtype
        self.max_length, self.prune_last_layer = max_length, prune_last_layer
        self.hidden_size = config.hidden_size
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads or self.heads
        self.head_dim = self.hidden_size // self.heads
        self.q_size, self.kv_size = self.heads * self.head_dim, self.kv_heads * self.head_dim
        self.eps = float(config.rms_norm_eps)
        self.window = config.sliding_window or -1
        self.g = Builder(dtype)
        self.np_dtype = np.float16 if dtype == torch.float16 else np.float32

    # Building blocks -------------------------------------------------------------------------

    def matmul(self, x: str, name: str, linear: torch.nn.Linear, rows: slice | None = None) -> str:
        """x @ linear.weight[rows].T, the weight stored transposed as an initializer."""
        if linear.bias is not None:
            raise UnsupportedModel(f"{name} has a bias")
        weight = linear.weight if rows is None else linear.weight[rows]
        return self.g.one("MatMul", [x, self.g.weight(name, weight.t())])

    def norm_weight(self, name: str, module) -> str:
        return self.g.weight(name, module.weight)

    def skip_norm(self, x: str, residual: str, weight: str) -> tuple[str, str]:
        """(RMSNorm(x + residual), x + residual) in one kernel."""
        normed, _, _, summed = self.g.op(
            "SkipSimplifiedLayerNormalization", [x, residual, weight], 4, MS_DOMAIN, epsilon=self.eps
        )
        return normed, summed

    def pool(self, x: str) -> str:
        """[batch, sequence, hidden] -> [batch, 1, hidden] at each row's last real token."""
        g = self.g
        flat = g.one("Reshape", [x, g.constant([-1, self.hidden_size])])
        return g.one("Unsqueeze", [g.one("Gather", [flat, self.pooled_rows], axis=0), g.constant([1])])

    def mlp(self, x: str, layer, i: int) -> str:
        g = self.g
        # gate_up_proj as two MatMuls: the same work without a Split copying the result.
        gate_up, size = layer.mlp.gate_up_proj, layer.mlp.gate_up_proj.weight.shape[0] // 2
        gate = self.matmul(x, f"layers.{i}.mlp.gate_proj", gate_up, slice(0, size))
        up = self.matmul(x, f"layers.{i}.mlp.up_proj", gate_up, slice(size, 2 * size))
        act = g.one("Mul", [g.one("Mul", [gate, g.one("Sigmoid", [gate])]), up])  # SiLU(gate) * up
        return self.matmul(act, f"layers.{i}.mlp.down_proj", layer.mlp.down_proj)

    # The graph -------------------------------------------------------------------------------

    def right_pad(self) -> str:
        """Each row's real tokens moved to the start of the row (GroupQueryAttention's padding is
        on the right), and the lengths the attention and the pooling need. Rows are padded on one
        side, as the fleet pads them: left-padded rows (and full ones) end with a real token."""
        g = self.g
        length = g.one("ReduceSum", ["attention_mask", g.constant([1])], keepdims=0)  # [batch]
        shape = g.one("Shape", ["input_ids"])
        batch = g.one("Gather", [shape, g.constant(0)], axis=0)
        self.sequence = g.one("Gather", [shape, g.constant(1)], axis=0)
        last_column = g.one("Sub", [self.sequence, g.constant(1)])
        ends_real = g.one("Gather", ["attention_mask", last_column], axis=1)  # [batch]: 1 if left-padded
        first = g.one("Mul", [g.one("Sub", [self.sequence, length]), ends_real])  # first real column
        self.columns = g.one("Range", [g.constant(0), self.sequence, g.constant(1)])  # [sequence]
        source = g.one("Add", [g.one("Unsqueeze", [self.columns, g.constant([0])]), g.one("Unsqueeze", [first, g.constant([1])])])
        source = g.one("Min", [source, last_column])
        ids = g.one("GatherElements", ["input_ids", source], axis=1)
        self.last = g.one("Max", [g.one("Sub", [length, g.constant(1)]), g.constant(0)])  # [batch]
        self.seqlens_k = g.one("Cast", [self.last], to=TensorProto.INT32)
        self.total_length = g.one("Cast", [self.sequence], to=TensorProto.INT32)
        # Row of each row's last real token in the [batch * sequence, hidden] view.
        rows = g.one("Range", [g.constant(0), batch, g.constant(1)])
        self.pooled_rows = g.one("Add", [g.one("Mul", [rows, self.sequence]), self.last])
        return ids

    def attention(self, x: str, layer, i: int) -> str:
        """Causal self-attention of every position: one GroupQueryAttention on the packed qkv."""
        qkv = self.matmul(x, f"layers.{i}.self_attn.qkv_proj", layer.self_attn.qkv_proj)
        attended = self.g.op(
            "GroupQueryAttention",
            [qkv, "", "", "", "", self.seqlens_k, self.total_length, self.cos_cache, self.sin_cache],
            3,
            MS_DOMAIN,
            num_heads=self.heads,
            kv_num_heads=self.kv_heads,
            do_rotary=1,
            rotary_interleaved=0,
            local_window_size=self.window,
        )[0]
        return self.matmul(attended, f"layers.{i}.self_attn.o_proj", layer.self_attn.o_proj)

    def pooled_attention(self, x: str, layer, i: int) -> str:
        """The last layer's attention for the pooled position only, [batch, 1, hidden]: keys and
        values at every position (the pooled token attends to them), the query and o_proj at
        that one position."""
        g, prefix, qkv_proj = self.g, f"layers.{i}.self_attn", layer.self_attn.qkv_proj
        k_start, v_start = self.q_size, self.q_size + self.kv_size
        key = self.matmul(x, f"{prefix}.k_proj", qkv_proj, slice(k_start, v_start))
        value = self.matmul(x, f"{prefix}.v_proj", qkv_proj, slice(v_start, v_start + self.kv_size))
        key = g.one("RotaryEmbedding", [key, g.constant([0]), self.cos_cache, self.sin_cache], MS_DOMAIN, interleaved=0, num_heads=self.kv_heads)
        last = g.one("Unsqueeze", [self.last, g.constant([1])])  # [batch, 1]
        query = self.matmul(self.pool(x), f"{prefix}.q_proj", qkv_proj, slice(0, self.q_size))
        query = g.one("RotaryEmbedding", [query, last, self.cos_cache, self.sin_cache], MS_DOMAIN, interleaved=0, num_heads=self.heads)

        # One query per row: scores [batch, kv_heads, group, sequence] with plain ops.
        kv_heads, head_dim = self.kv_heads, self.head_dim
        q = g.one("Reshape", [query, g.constant([0, kv_heads, self.heads // kv_heads, head_dim])])
        k = g.one("Transpose", [g.one("Reshape", [key, g.constant([0, 0, kv_heads, head_dim])])], perm=[0, 2, 3, 1])
        v = g.one("Transpose", [g.one("Reshape", [value, g.constant([0, 0, kv_heads, head_dim])])], perm=[0, 2, 1, 3])
        scores = g.one("Mul", [g.one("MatMul", [q, k]), g.constant(head_dim**-0.5, self.np_dtype)])
        # The keys the pooled token sees: real ones at or before it, inside the sliding window.
        distance = g.one("Sub", [last, g.one("Unsqueeze", [self.columns, g.constant([0])])])  # [batch, sequence]
        visible = g.one("GreaterOrEqual", [distance, g.constant(0)])
        if self.window > 0:
            visible = g.one("And", [visible, g.one("Less", [distance, g.constant(self.window)])])
        hidden_value = np.finfo(self.np_dtype).min
        bias = g.one("Where", [visible, g.constant(0.0, self.np_dtype), g.constant(hidden_value, self.np_dtype)])
        bias = g.one("Unsqueeze", [bias, g.constant([1, 2])])  # [batch, 1, 1, sequence]
        probs = g.one("Softmax", [g.one("Add", [scores, bias])], axis=-1)
        attended = g.one("Reshape", [g.one("MatMul", [probs, v]), g.constant([0, 1, self.q_size])])
        return self.matmul(attended, f"{prefix}.o_proj", layer.self_attn.o_proj)

    def build(self) -> onnx.ModelProto:
        g, model = self.g, self.model
        decoder = model.model
        ids = self.right_pad()
        cos, sin = rotary_caches(model, self.max_length, self.dtype)
        self.cos_cache, self.sin_cache = g.weight("rotary_cos", cos), g.weight("rotary_sin", sin)

        layers = list(decoder.layers)
        residual = g.one("Gather", [g.weight("embed_tokens", decoder.embed_tokens.weight), ids], axis=0)
        x = g.one(
            "SimplifiedLayerNormalization",
            [residual, self.norm_weight("layers.0.input_layernorm", layers[0].input_layernorm)],
            axis=-1,
            epsilon=self.eps,
            stash_type=1,
        )
        pooled = False
        for i, layer in enumerate(layers):
            if self.prune_last_layer and i == len(layers) - 1:
                attended, residual, pooled = self.pooled_attention(x, layer, i), self.pool(residual), True
            else:
                attended = self.attention(x, layer, i)
            post_norm = self.norm_weight(f"layers.{i}.post_attention_layernorm", layer.post_attention_layernorm)
            x, residual = self.skip_norm(attended, residual, post_norm)
            if i + 1 < len(layers):
                next_norm = self.norm_weight(f"layers.{i + 1}.input_layernorm", layers[i + 1].input_layernorm)
            else:
                next_norm = self.norm_weight("norm", decoder.norm)
            x, residual = self.skip_norm(self.mlp(x, layer, i), residual, next_norm)

        final = g.one("Squeeze", [x if pooled else self.pool(x), g.constant([1])])  # [batch, hidden]
        head_linear = model.lm_head if self.head == "causal" else model.score
        logits = self.matmul(final, "lm_head" if self.head == "causal" else "score", head_linear)
        if self.dtype != torch.float32:
            logits = g.one("Cast", [logits], to=TensorProto.FLOAT)  # the bundle's output is float32
        g.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="output"))
        graph = helper.make_graph(
            g.nodes,
            "phudge_judge",
            [
                helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
                helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
            ],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", head_linear.weight.shape[0]])],
            initializer=g.initializers,
        )
        return helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)],
            ir_version=IR_VERSION,
            producer_name="phudge models/export/fused_graph.py",
        )


def build_judge_graph(model, head: str, dtype: torch.dtype, max_length: int, prune_last_layer: bool = True) -> onnx.ModelProto:
    """The judge's graph: input_ids and attention_mask (int64 [batch, sequence]) in, `logits`
    (float32 [batch, outputs]) at each row's last real token out."""
    with torch.no_grad():
        return JudgeGraphWriter(model, head, dtype, max_length, prune_last_layer).build()


def save(model_proto: onnx.ModelProto, out: Path, external: bool) -> str | None:
    """Writes out/model.onnx; the weights go to out/model.onnx.data when `external` or past 2 GB."""
    data = out / "model.onnx.data"
    data.unlink(missing_ok=True)  # a stale one from an earlier export would be taken for ours
    size = sum(t.ByteSize() for t in model_proto.graph.initializer)
    if external or size > 1_900_000_000:
        onnx.save_model(model_proto, str(out / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True, location=data.name, size_threshold=1024)
        return data.name
    onnx.save_model(model_proto, str(out / "model.onnx"))
    return None
