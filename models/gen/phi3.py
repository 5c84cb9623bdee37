"""A tiny Phi-3-style decoder in plain torch (no transformers), with the three judge heads.

Layout follows Phi-3-mini (fused qkv_proj and gate_up_proj, RMSNorm, rotate_half RoPE) at a
toy size. Position ids and the pooled position are derived from attention_mask *inside*
the graph, so a left-padded and a right-padded batch give the same scores for the same
real tokens - the property the TypeScript batcher relies on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Config:
    vocab_size: int = 4011
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 128
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    initializer_range: float = 0.02

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.head_dim
        self.hidden_size = cfg.hidden_size
        self.qkv_proj = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size, bias=False)
        self.o_proj = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=False)

    def forward(self, x, cos, sin, allowed):
        batch, seq = x.shape[0], x.shape[1]
        q, k, v = self.qkv_proj(x).split(self.hidden_size, dim=-1)
        # [B, S, H] -> [B, heads, S, head_dim]
        q, k, v = (t.reshape(batch, seq, self.num_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        # Masked entries get the most negative float32, not -inf: a query row with no
        # allowed key (a left-padding position) then softmaxes to a uniform row instead of
        # NaN. Such rows belong to padding queries only; real queries never attend to
        # padding keys, so nothing from padding reaches real positions.
        scores = torch.where(allowed, scores, torch.full_like(scores, torch.finfo(torch.float32).min))
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(batch, seq, self.hidden_size)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.intermediate_size = cfg.intermediate_size
        self.gate_up_proj = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        gate, up = self.gate_up_proj(x).split(self.intermediate_size, dim=-1)
        return self.down_proj(nn.functional.silu(gate) * up)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, allowed):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, allowed)
        return x + self.mlp(self.post_attention_layernorm(x))


class TinyPhi3Judge(nn.Module):
    """Decoder + head at the last real token.

    head: "regression" -> logits [B, 1]; "classification" -> [B, 5];
          "causal" -> [B, vocab] (next-token logits at the last real token only).
    """

    def __init__(self, cfg: Config, head: str):
        super().__init__()
        self.cfg = cfg
        self.head_kind = head
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        out_features = {"regression": 1, "classification": 5, "causal": cfg.vocab_size}[head]
        # Score heads get a bias (regression: centred on 3); lm_head has none, like Phi-3.
        self.head = nn.Linear(cfg.hidden_size, out_features, bias=head != "causal")
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.int64).float() / cfg.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._init_weights()

    def _init_weights(self):
        std = self.cfg.initializer_range
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=std)

    def hidden_at_last_token(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.to(torch.int64)
        # 0, 1, 2, ... S-1 built from the input so that the sequence axis stays dynamic.
        positions = torch.cumsum(torch.ones_like(mask[0]), dim=0) - 1  # [S]
        # Phi-3/HF generate convention: real tokens get 0..n-1 whatever the padding side.
        position_ids = (torch.cumsum(mask, dim=-1) - 1).clamp(min=0)  # [B, S]

        freqs = position_ids.unsqueeze(-1).to(torch.float32) * self.inv_freq  # [B, S, hd/2]
        emb = torch.cat((freqs, freqs), dim=-1).unsqueeze(1)  # [B, 1, S, hd]
        cos, sin = emb.cos(), emb.sin()

        causal = positions.unsqueeze(0) <= positions.unsqueeze(1)  # [S(query), S(key)]
        allowed = causal.unsqueeze(0).unsqueeze(0) & (mask != 0).unsqueeze(1).unsqueeze(2)  # [B,1,S,S]

        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin, allowed)
        x = self.norm(x)

        # Last real token for either padding side: mask * position peaks there, and the peak
        # value *is* the index, so a ReduceMax gives it (no ArgMax over int64 needed).
        last = (mask * positions.unsqueeze(0)).amax(dim=-1)  # [B]
        index = last.view(-1, 1, 1).expand(-1, 1, x.shape[-1])
        # [:, 0] rather than squeeze(1): exports as a plain Gather instead of an If node.
        return torch.gather(x, 1, index)[:, 0]  # [B, H]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden_at_last_token(input_ids, attention_mask))
