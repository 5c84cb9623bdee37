"""A tiny random Phi-3 (transformers' Phi3Config, two layers) with a random LoRA adapter, and a
tiny merged causal-LM checkpoint, saved as the exporter expects real weights: for the export test,
on machines with transformers and peft.

    python -m models.export.make_test_model OUT_DIR   ->   OUT_DIR/base, OUT_DIR/adapter, OUT_DIR/causal
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

TOKENIZER = Path(__file__).resolve().parents[1] / "tokenizer"


def main(out: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, Phi3Config, Phi3ForCausalLM, Phi3ForSequenceClassification

    torch.manual_seed(0)
    config = Phi3Config(
        vocab_size=4011,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        pad_token_id=4000,
        bos_token_id=1,
        eos_token_id=4000,
        num_labels=1,
        # Phi-3-mini-4k's config sets a 2047-token window; a short one here puts every parity
        # prompt past it, so the exported graph must keep the window the PyTorch model applies.
        sliding_window=48,
    )
    base = Phi3ForSequenceClassification(config).eval()
    base_dir = out / "base"
    base.save_pretrained(base_dir)
    for file in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"):
        shutil.copyfile(TOKENIZER / file, base_dir / file)

    # The PHUDGE recipe: LoRA on the attention and MLP projections, the score head trained in full.
    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["qkv_proj", "o_proj", "gate_up_proj", "down_proj"], modules_to_save=["score"], task_type="SEQ_CLS")
    tuned = get_peft_model(base, lora)
    with torch.no_grad():  # LoRA's B starts at zero: make the adapter actually change the model
        for name, parameter in tuned.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                parameter.normal_(0, 0.05)
    tuned.save_pretrained(out / "adapter")

    # A merged causal-LM checkpoint for --merged and --head causal, with its tokenizer saved the
    # way transformers 5 saves one (no tokenizer.model, a thinner tokenizer_config.json).
    causal_dir = out / "causal"
    Phi3ForCausalLM(config).eval().save_pretrained(causal_dir)
    AutoTokenizer.from_pretrained(base_dir, local_files_only=True).save_pretrained(causal_dir)
    print(f"wrote {base_dir}, {out / 'adapter'} and {causal_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
