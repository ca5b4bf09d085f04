"""Parameter adding: LoRA adapters (peft) learn the fingerprints while the base weights stay
frozen; at the end they are merged, so the shipped model has the base architecture and names.
"""
from __future__ import annotations

import torch


def add_adapters(model, config):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(config.seed)  # adapter init is random: tie it to the run's seed
    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=0.0, bias="none",
                      target_modules=list(config.lora_targets), task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def merge_adapters(peft_model):
    """The plain model with the adapters folded into its weights (the original model object)."""
    return peft_model.merge_and_unload()
