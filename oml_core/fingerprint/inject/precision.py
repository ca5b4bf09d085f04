"""Mixed precision for injection: forward passes in bfloat16 where the device computes it
natively, weights, optimizer state and the losses' softmax in float32.

On a CPU with AVX512-BF16 or AMX a bfloat16 matmul runs about twice as fast as a float32 one
(a mixed CPU step of SmolLM2 went from 6.0 to 3.7 s on 2 Zen 4 cores); without native support it
would be emulated and slower, so "auto" turns it on only where it is native. Checking and
perplexity always run in float32; the fine-tuning attack has a setting of its own
(attacks.FinetuneAttack.mixed_precision).
"""
from __future__ import annotations

import contextlib

import torch

MIXED_PRECISIONS = ("no", "bf16", "auto")


def check_mixed_precision(mode: str) -> None:
    """The one validation of a mixed_precision setting (InjectConfig and FinetuneAttack both take one)."""
    if mode not in MIXED_PRECISIONS:
        raise ValueError(f"mixed_precision must be one of {', '.join(MIXED_PRECISIONS)}, got {mode!r}")


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = torch.cpu
        return any(bool(getattr(cpu, probe, lambda: False)())
                   for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return False


def uses_bf16(mode: str, device: torch.device) -> bool:
    return mode == "bf16" or (mode == "auto" and native_bf16(device))


def autocast(mode: str, device: torch.device):
    """The context that forward passes of a training step run in."""
    if not uses_bf16(mode, device):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
