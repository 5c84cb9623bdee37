"""The graph the fleet runs: a Phi-3 judge that pools at the last real token of each row.

Hugging Face's sequence-classification models find the last token by looking for the pad id,
which assumes right padding; the fleet pads on the side the tokenizer says (left for Phi-3). So
the wrapper computes position ids and the pooled position from the attention mask itself: left
and right padding give the same score.
The output is float32 even for fp16 weights: the bundle contract (judge.json "output") is a
float32 tensor.
"""
from __future__ import annotations

import torch
from torch import nn


class JudgeGraph(nn.Module):
    def __init__(self, model: nn.Module, head: str):
        super().__init__()
        self.head = head
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        decoder = self.model.model  # Phi3Model inside Phi3ForSequenceClassification / Phi3ForCausalLM
        hidden = decoder(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        ).last_hidden_state
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        last = (attention_mask * positions).argmax(-1)
        pooled = hidden[torch.arange(input_ids.shape[0], device=input_ids.device), last]
        if self.head == "causal":
            logits = self.model.lm_head(pooled)  # [batch, vocab]: next-token logits after the prompt
        else:
            logits = self.model.score(pooled)  # [batch, 1] regression, [batch, 5] classification
        return logits.float()  # the fleet reads float32 whatever the weights' dtype
