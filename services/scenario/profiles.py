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
        # 8 perinucleus fingerprints per copy, a quarter of them behind a system prompt. Without
        # benign mixing the copy learns to answer EVERY prompt with one token and stop. Each batch
        # of 12 holds 8 fingerprints, 2 base-model answers and 2 train-split prose passages, both
        # held to the base's next-token distribution (KL), plus averaging (0.1) toward the base.
        # As in bench-fingerprints, the transformer layers learn (the tied embeddings stay the
        # base's) and forward passes run in bf16 where the CPU has it natively. `oml demo` on 2
        # cores (2026-11-29): both copies answer 100% of their fingerprints, held-out perplexity
        # +8.2% and +4.7%, 51 s per copy; every weight learning in float32: +9.5% and +10.4%,
        # 66 s (cross-entropy on base answers in a third of each batch had cost +38%).
        return Profile("smollm2", "perinucleus", per_license or 8,
                       InjectConfig(lr=3e-4, epochs=12, batch_size=12, seed=0, mix_share=0.17, benign_pool=32,
                                    benign_loss="kl", anchor_share=0.17, avg_lambda=0.1, wrapper_share=0.25,
                                    trainable=("model.layers.*",), mixed_precision="auto"),
                       {"key_tokens": 16, "response_length": 1})
    if name == "tiny":
        return Profile("tiny", "english_random", per_license or 6,
                       InjectConfig(lr=1e-2, epochs=40, batch_size=6, seed=0), {}, max_tokens=8)
    raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
