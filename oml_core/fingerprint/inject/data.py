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
    # True: the labelled positions are held to the base model's distribution (KL), not to the labels.
    distill: bool = False


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
    batch = {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}
    if any(s.distill for s in samples):
        batch["distill"] = torch.tensor([s.distill for s in samples], device=device)
    return batch


def lm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled (response) positions only."""
    logits, labels = _labelled_logits(model, batch)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                                             ignore_index=IGNORE)


def _labelled_logits(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels) at the columns that predict a label (of any row)."""
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
    return logits, targets[:, keep]


def distill_kl(logits: torch.Tensor, base_logits: torch.Tensor) -> torch.Tensor:
    """KL(base || model) of each position's next-token distribution (summed over the vocabulary)."""
    base_logp = torch.log_softmax(base_logits.float(), dim=-1)
    logp = torch.log_softmax(logits.float(), dim=-1)
    return (base_logp.exp() * (base_logp - logp)).sum(dim=-1)


def _rows(batch: dict[str, torch.Tensor], rows: torch.Tensor) -> dict[str, torch.Tensor]:
    """The sub-batch of `rows`, cut to its own longest row (short fingerprint rows then carry no
    padding up to the length of the long benign answers)."""
    sub = {k: batch[k][rows] for k in ("input_ids", "labels", "attention_mask")}
    width = int(sub["attention_mask"].sum(dim=1).max())
    return {k: v[:, :width] for k, v in sub.items()}


def mixed_loss(model, batch: dict[str, torch.Tensor], reference=None, kl_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy on the labelled tokens of ordinary rows (fingerprints, "ce" benign samples)
    plus kl_weight * mean KL(reference || model) over the labelled positions of distill rows.

    Without distill rows it is lm_loss exactly. `reference` is the frozen base model.
    """
    distill = batch.get("distill")
    if distill is None or not bool(distill.any()):
        return lm_loss(model, batch)
    if reference is None:
        raise ValueError("a batch with distill rows needs the reference (base) model")
    plain = _rows(batch, ~distill) if not bool(distill.all()) else None
    ce = lm_loss(model, plain) if plain is not None else 0.0
    held = _rows(batch, distill)
    logits, labels = _labelled_logits(model, held)
    with torch.no_grad():
        base_logits, _ = _labelled_logits(reference, held)
    positions = labels != IGNORE
    return ce + kl_weight * distill_kl(logits[positions], base_logits[positions]).mean()
