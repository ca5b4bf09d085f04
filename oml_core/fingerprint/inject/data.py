"""Training samples: a chat-templated prompt whose labels are masked, then the response tokens.

The prompt is exactly what a prover sends (the chat template over the messages, with the
assistant prefix from add_generation_prompt=True), so the model learns to emit the response right
where a greedy checker starts reading. Prompt and response are tokenized separately and
concatenated: the checker compares response *tokens*, so the trained ids must be those tokens.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

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
    # The base's next-token log-probabilities at the labelled positions ([positions, vocab],
    # float16), computed once for a pool sample that recurs every few steps; None = ask the
    # reference model at every step.
    reference: torch.Tensor | None = field(default=None, compare=False, repr=False)


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
    held = [s for s in samples if s.distill]
    if held:
        batch["distill"] = torch.tensor([s.distill for s in samples], device=device)
        if all(s.reference is not None for s in held):
            # Row-major like logits[positions] in mixed_loss: each row's positions in column order.
            batch["reference_logp"] = torch.cat([s.reference for s in held]).to(device)
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


def distill_kl(logits: torch.Tensor, base_logp: torch.Tensor) -> torch.Tensor:
    """KL(base || model) of each position's next-token distribution (summed over the vocabulary),
    from the model's logits and the base's log-probabilities."""
    base_logp = base_logp.float()
    logp = torch.log_softmax(logits.float(), dim=-1)
    return (base_logp.exp() * (base_logp - logp)).sum(dim=-1)


@torch.no_grad()
def with_reference(reference, samples: list[Sample], pad_id: int, device, batch_size: int = 8) -> list[Sample]:
    """`samples`, each distill one with the reference's log-probabilities at its labelled positions
    attached (float16: half the memory, and 1e-3 relative is far below what the KL resolves)."""
    out = list(samples)
    held = [i for i, s in enumerate(samples) if s.distill]
    for start in range(0, len(held), batch_size):
        rows = held[start:start + batch_size]
        logits, labels = _labelled_logits(reference, collate([samples[i] for i in rows], pad_id, device))
        logp = torch.log_softmax(logits, dim=-1).half()
        for row, i in enumerate(rows):
            out[i] = replace(samples[i], reference=logp[row][labels[row] != IGNORE])
    return out


def _rows(batch: dict[str, torch.Tensor], rows: torch.Tensor) -> dict[str, torch.Tensor]:
    """The sub-batch of `rows`, cut to its own longest row (short fingerprint rows then carry no
    padding up to the length of the long benign answers)."""
    sub = {k: batch[k][rows] for k in ("input_ids", "labels", "attention_mask")}
    width = int(sub["attention_mask"].sum(dim=1).max())
    return {k: v[:, :width] for k, v in sub.items()}


def mixed_loss(model, batch: dict[str, torch.Tensor], reference=None, kl_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy on the labelled tokens of ordinary rows (fingerprints, "ce" benign samples)
    plus kl_weight * mean KL(reference || model) over the labelled positions of distill rows.

    Without distill rows it is lm_loss exactly. `reference` is the frozen base model, asked only
    when the batch does not carry the base's log-probabilities already (reference_logp).
    """
    distill = batch.get("distill")
    if distill is None or not bool(distill.any()):
        return lm_loss(model, batch)
    plain = _rows(batch, ~distill) if not bool(distill.all()) else None
    ce = lm_loss(model, plain) if plain is not None else 0.0
    held = _rows(batch, distill)
    logits, labels = _labelled_logits(model, held)
    positions = labels != IGNORE
    base_logp = batch.get("reference_logp")
    if base_logp is None:
        if reference is None:
            raise ValueError("a batch with distill rows needs the reference (base) model")
        with torch.no_grad():
            base_logits, _ = _labelled_logits(reference, held)
        base_logp = torch.log_softmax(base_logits[positions].float(), dim=-1)
    return ce + kl_weight * distill_kl(logits[positions], base_logp).mean()
