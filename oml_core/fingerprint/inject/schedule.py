"""The learning rate at each step: constant, or warm-up then cosine decay to zero.

A pure function of the step, like the batch plan, so a resumed run continues on the same curve
without saving scheduler state. Why decay: with a constant rate the weights keep moving after the
fingerprints are learned, and held-out perplexity moves with them by several points between
evaluations; a rate that falls to zero lets the KL anchors settle the model at the end.
"""
from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "cosine")


def lr_at(config, step: int, total_steps: int) -> float:
    """Learning rate of the step numbered `step` (0-based) of a run of `total_steps`."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / (config.warmup_steps + 1)
    if config.lr_schedule == "constant":
        return config.lr
    span = max(1, total_steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
