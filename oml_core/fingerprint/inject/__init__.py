"""Fingerprint injection (DESIGN.md §6): SFT on response tokens with data mixing, model averaging
toward the base, layer selection, prompt-wrapper augmentation, first-order meta-learning against
fine-tuning, and LoRA parameter adding; resumable checkpoints under a JSON config.
"""
from .config import DEFAULT_WRAPPERS, InjectConfig
from .train import InjectResult, inject

__all__ = ["DEFAULT_WRAPPERS", "InjectConfig", "InjectResult", "inject"]
