"""Which parameters learn: all, or those whose names match config.trainable; the rest are frozen.

Freezing is done with requires_grad=False and by leaving them out of the optimizer, so weight
decay and averaging never touch them either: frozen weights stay bit-identical.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

import torch


def matches(name: str, patterns: tuple[str, ...]) -> bool:
    # "model.layers.1" names a module; it selects every parameter under it.
    return any(fnmatchcase(name, p) or fnmatchcase(name, p + ".*") for p in patterns)


def select_trainable(model, patterns: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Sets requires_grad and returns {name: parameter} of the trainable ones.

    With no patterns it keeps the model's own flags (all True for a plain model; only the
    adapters for a peft model, which froze its base weights itself).
    """
    named = dict(model.named_parameters())
    if patterns:
        unused = [p for p in patterns if not any(matches(n, (p,)) for n in named)]
        if unused:
            raise ValueError(f"trainable patterns match no parameter: {unused}")
        for name, p in named.items():
            p.requires_grad_(matches(name, patterns))
    chosen = {n: p for n, p in named.items() if p.requires_grad}
    if not chosen:
        raise ValueError("no trainable parameters")
    return chosen


def requires_grad_flags(model) -> dict[str, bool]:
    return {n: p.requires_grad for n, p in model.named_parameters()}


def restore_flags(model, flags: dict[str, bool]) -> None:
    for n, p in model.named_parameters():
        if n in flags:
            p.requires_grad_(flags[n])
