"""What a host might do to a licensed copy to dodge its fingerprints, as functions over models:
fine-tune it a little on benign instruction data (the standard persistence attack), or average
its weights with another host's copy (a coalition). A host's system prompt and refusals act at
serving time (services/host); their effect on a model is `check_local(..., system_prompt=...)`.

The attack's instruction data is NOT the mixing data of injection (which are base-model answers
to benign prompts): it is "continue this passage" pairs cut from the train part of the offline
corpus, so the attacker teaches the model something new, as a real fine-tune would.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import torch

from oml_core import text_corpus
from oml_core.fingerprint.inject.data import collate, lm_loss, make_sample, stop_token_id
from oml_core.fingerprint.inject.precision import autocast, check_mixed_precision
from oml_core.fingerprint.tokens import model_device, pad_id, prompt_ids, response_ids
from oml_core.progress import track


@dataclass(frozen=True)
class FinetuneAttack:
    """SFT of the whole model on benign instruction pairs, response tokens only."""

    steps: int = 20
    lr: float = 2e-5
    batch_size: int = 8
    max_length: int = 192
    seed: int = 0
    # Forward passes in bfloat16 as in injection (inject/precision.py): an attacker with a bf16
    # machine fine-tunes this way, and on 2 cores it takes 80 instead of 110 s. "no" = float32.
    # The autocast context is entered per step: it caches each weight's bf16 copy until it exits,
    # so one context around the whole loop would run every step with the starting weights.
    mixed_precision: str = "no"

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.max_length < 32:
            raise ValueError("steps and batch_size must be >= 1, max_length >= 32")
        if not 0 < self.lr < 1:
            raise ValueError("lr must be in (0, 1)")
        check_mixed_precision(self.mixed_precision)


def instruction_pairs(n: int, seed: int) -> list[tuple[list[dict], str]]:
    """`n` (messages, answer) pairs: the first half of a corpus paragraph, continued by its second half."""
    paragraphs = list(text_corpus.paragraphs("train"))
    random.Random(f"finetune-attack|{seed}").shuffle(paragraphs)
    pairs = []
    for text in paragraphs[:n]:
        words = text.split()
        half = max(4, len(words) // 2)
        pairs.append(([{"role": "user", "content": "Continue this passage: " + " ".join(words[:half])}],
                      " ".join(words[half:half + 48])))
    return pairs


def finetune_attack(model, tokenizer, attack: FinetuneAttack = FinetuneAttack(), progress: bool = False) -> list[float]:
    """Fine-tunes `model` in place; returns the loss of each step."""
    eos, device = stop_token_id(model, tokenizer), model_device(model)
    samples = []
    for messages, answer in instruction_pairs(attack.steps * attack.batch_size, attack.seed):
        prompt, response = prompt_ids(tokenizer, messages), response_ids(tokenizer, answer)
        budget = attack.max_length - len(prompt) - 1
        if budget >= 4:
            samples.append(make_sample(prompt, response[:budget], eos, attack.max_length))
    if not samples:
        raise ValueError("no attack sample fits max_length")
    optimizer = torch.optim.AdamW(model.parameters(), lr=attack.lr)
    model.train()
    losses = []
    for step in track(range(attack.steps), "fine-tuning attack", enabled=progress):
        start = (step * attack.batch_size) % len(samples)
        batch = collate((samples + samples)[start:start + attack.batch_size], pad_id(tokenizer), device)
        with autocast(attack.mixed_precision, device):
            loss = lm_loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def average_copies(models: list) -> object:
    """A new model whose every floating-point weight is the mean of `models`' (same architecture)."""
    if len(models) < 2:
        raise ValueError("averaging needs at least two copies")
    merged = copy.deepcopy(models[0])
    states = [m.state_dict() for m in models]
    for name, tensor in merged.state_dict().items():
        if tensor.is_floating_point():
            tensor.copy_(torch.stack([s[name].to(tensor.device, torch.float32) for s in states]).mean(0).to(tensor.dtype))
    return merged
