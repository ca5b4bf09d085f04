"""Resumable checkpoints: weights + optimizer + step (+ losses and RNG) in output_dir/checkpoint.

A checkpoint is written to a temporary directory and renamed into place, so an interrupted save
never leaves a half checkpoint that a resume would trust. Only the latest one is kept.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

CHECKPOINT_DIR = "checkpoint"


def checkpoint_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / CHECKPOINT_DIR


def has_checkpoint(output_dir: str | Path | None) -> bool:
    return output_dir is not None and (checkpoint_path(output_dir) / "state.json").exists()


def save_checkpoint(output_dir: str | Path, model, optimizer, state: dict) -> Path:
    target = checkpoint_path(output_dir)
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # named_parameters lists a tied weight once; a state_dict would list it twice and safetensors
    # refuses tensors that share memory.
    weights = {n: p.detach().to("cpu").contiguous() for n, p in model.named_parameters()}
    save_file(weights, str(tmp / "weights.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save({"cpu": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
               tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state))
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


@torch.no_grad()
def load_checkpoint(output_dir: str | Path, model, optimizer) -> dict:
    """Loads weights and optimizer state in place; returns the saved state dict (step, losses...)."""
    source = checkpoint_path(output_dir)
    weights = load_file(str(source / "weights.safetensors"))
    named = dict(model.named_parameters())
    if set(weights) != set(named):
        raise ValueError(f"checkpoint in {source} does not fit this model (parameter names differ)")
    for name, p in named.items():
        p.copy_(weights[name].to(p.device, p.dtype))
    device = next(model.parameters()).device
    optimizer.load_state_dict(torch.load(source / "optimizer.pt", map_location=device, weights_only=True))
    rng = torch.load(source / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["cpu"])
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return json.loads((source / "state.json").read_text())
