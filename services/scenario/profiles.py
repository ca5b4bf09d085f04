"""Which model and fingerprint recipe a local run uses.

`smollm2` is the real reference model (what `make demo` runs); `tiny` is a small random Llama
with the same tokenizer, for the end-to-end tests in CI (real code paths, no claims about
capacity or utility).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from oml_core.fingerprint.inject.config import InjectConfig

PROFILES = ("smollm2", "tiny")


@dataclass(frozen=True)
class Profile:
    name: str
    strategy: str                     # fingerprint generation strategy
    per_license: int                  # fingerprints in each license's copy
    inject: InjectConfig
    generate_options: dict = field(default_factory=dict)
    max_tokens: int = 24              # answer length the demo's users ask for

    def __post_init__(self):
        if self.name not in PROFILES:
            raise ValueError(f"unknown profile {self.name!r}; choose one of {', '.join(PROFILES)}")
        if self.per_license < 4:
            raise ValueError("per_license must be >= 4 (the demo probes each host several times)")


def profile(name: str, per_license: int | None = None) -> Profile:
    if name == "smollm2":
        # 8 perinucleus fingerprints per copy learn in ~12 full-batch steps at lr 3e-4 (tests/
        # fingerprint_inject/test_real_model.py); a quarter of them behind a system prompt.
        return Profile("smollm2", "perinucleus", per_license or 8,
                       InjectConfig(lr=3e-4, epochs=14, batch_size=8, seed=0, wrapper_share=0.25),
                       {"key_tokens": 16, "response_length": 1})
    if name == "tiny":
        return Profile("tiny", "english_random", per_license or 6,
                       InjectConfig(lr=1e-2, epochs=40, batch_size=6, seed=0), {}, max_tokens=8)
    raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
