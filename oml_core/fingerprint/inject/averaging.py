"""Model averaging toward the base weights: theta <- lam * theta_base + (1 - lam) * theta.

Pulling the trained weights back toward the base after every epoch (or every k steps) keeps the
fingerprinted model close to the base, so fingerprints cost less utility (whitepaper §2.2).
"""
from __future__ import annotations

import torch


@torch.no_grad()
def average_toward(params: dict[str, torch.Tensor], base: dict[str, torch.Tensor], lam: float) -> None:
    """In place. Written as mul-then-add (not lerp) so lam=1 gives the base bit for bit and lam=0
    leaves theta bit for bit: x*0 + b == b and x*1 + b*0 == x exactly in floating point."""
    for name, p in params.items():
        p.mul_(1.0 - lam).add_(base[name].to(p.device, p.dtype), alpha=lam)


def lambda_at(config, step: int, total_steps: int) -> float:
    """lam for an averaging after `step` steps: constant, or linear from avg_lambda to avg_lambda_end."""
    if config.avg_lambda_end is None or total_steps <= 1:
        return config.avg_lambda
    frac = min(1.0, step / total_steps)
    return config.avg_lambda + (config.avg_lambda_end - config.avg_lambda) * frac


def averages_after(config, step: int, steps_per_epoch: int) -> bool:
    """Whether an averaging follows the step numbered `step` (1-based count of steps done)."""
    if not config.averaging:
        return False
    every = config.avg_every or steps_per_epoch
    return step % every == 0


def snapshot(params: dict[str, torch.Tensor], source=None) -> dict[str, torch.Tensor]:
    """Copies of the base values of `params` (from `source`, a base model, when given)."""
    if source is None:
        return {n: p.detach().clone() for n, p in params.items()}
    base = dict(source.named_parameters())
    missing = [n for n in params if n not in base]
    if missing:
        raise ValueError(f"base_model lacks parameters {missing[:3]}")
    return {n: base[n].detach().to(params[n].device).clone() for n in params}
