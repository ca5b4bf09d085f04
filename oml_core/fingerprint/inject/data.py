"""Training samples: a chat-templated prompt whose labels are masked, then the response tokens.

The prompt is exactly what a prover sends (the chat template over the messages, with the
assistant prefix from add_generation_prompt=True), so the model learns to emit the response right
where a greedy checker starts reading. Prompt and response are tokenized separately and
concatenated: the checker compares response *tokens*, so the trained ids must be those tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# The prompt/response tokenization is the one generation and checking use, so what is trained is
# exactly what `check` asks; re-exported here for the trainer.
from oml_core.fingerprint.tokens import prompt_ids, response_ids  # noqa: F401

IGNORE = -100  # label value that cross-entropy skips


@dataclass(frozen=True)
class Sample:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


def stop_token_id(model, tokenizer) -> int | None:
    """The token greedy generation stops on (generation config first: that is what decoding uses)."""
    gen = getattr(model, "generation_config", None)
    eos = getattr(gen, "eos_token_id", None) if gen is not None else None
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    if isinstance(eos, (list, tuple)):
        eos = eos[0] if eos else None
    return eos


def wrap(messages: list[dict], system_prompt: str | None) -> list[dict]:
    """The key as a host might forward it: behind its own system prompt (None = as sent)."""
    if system_prompt is None:
        return list(messages)
    return [{"role": "system", "content": system_prompt}] + [m for m in messages if m["role"] != "system"]


def make_sample(prompt: list[int], response: list[int], eos: int | None, max_length: int) -> Sample:
    target = list(response) + ([eos] if eos is not None else [])
    if len(prompt) + len(target) > max_length:
        raise ValueError(f"sample of {len(prompt) + len(target)} tokens exceeds max_length={max_length}")
    return Sample(tuple(prompt) + tuple(target), (IGNORE,) * len(prompt) + tuple(target))


def collate(samples: list[Sample], pad_id: int, device) -> dict[str, torch.Tensor]:
    """Right-padded batch; padding is masked out of both attention and loss."""
    width = max(len(s.input_ids) for s in samples)
    ids = torch.full((len(samples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(samples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(samples), width), dtype=torch.long)
    for row, s in enumerate(samples):
        n = len(s.input_ids)
        ids[row, :n] = torch.tensor(s.input_ids)
        labels[row, :n] = torch.tensor(s.labels)
        mask[row, :n] = 1
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}


def lm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled (response) positions only."""
    # Position t predicts token t+1. Only columns that predict a label need logits; asking the
    # model for those alone (logits_to_keep) skips most of the vocabulary projection and softmax,
    # a large share of a step when prompts are long, responses short and the vocabulary big.
    targets = batch["labels"][:, 1:]
    keep = torch.nonzero((targets != IGNORE).any(dim=0)).squeeze(1)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "use_cache": False}
    try:
        logits = model(**inputs, logits_to_keep=keep).logits.float()
    except TypeError:  # an architecture without logits_to_keep: project every position, then select
        logits = model(**inputs).logits[:, keep].float()
    labels = targets[:, keep]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                                             ignore_index=IGNORE)
