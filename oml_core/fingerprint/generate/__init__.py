"""Fingerprint generation: one module per strategy, one entry point (`generate_fingerprints`).

Everything is deterministic under `seed`: keys, responses and salts. The seed is therefore as
secret as the fingerprints themselves; without one, salts come from the OS and a random
128-bit seed is drawn (and not kept).
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import asdict, fields

from oml_core.fingerprint.record import Fingerprint

STRATEGIES = ("random_tokens", "english_random", "perinucleus", "functional")
# Strategies that read the base model (the others need a tokenizer at most).
NEEDS_MODEL = {"perinucleus"}
NEEDS_TOKENIZER = {"random_tokens", "perinucleus"}


def make_salt(seed: int, strategy: str, index: int) -> bytes:
    """32-byte salt of fingerprint `index`: a hash of the (secret) seed, so reruns are identical."""
    return hashlib.sha256(f"oml-fingerprint-salt|{seed}|{strategy}|{index}".encode()).digest()


def resolve_seed(seed: int | None) -> int:
    return secrets.randbits(128) if seed is None else int(seed)


def _registry() -> dict[str, tuple[type, Callable]]:
    # Imported lazily: the perinucleus module pulls torch.
    from oml_core.fingerprint.generate import english, functional, perinucleus, random_tokens

    return {
        "random_tokens": (random_tokens.RandomTokensConfig, random_tokens.generate),
        "english_random": (english.EnglishRandomConfig, english.generate),
        "perinucleus": (perinucleus.PerinucleusConfig, perinucleus.generate),
        "functional": (functional.FunctionalConfig, functional.generate),
    }


def config_for(strategy: str, **options):
    """The strategy's config dataclass built from `options` (unknown options are an error)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    cls, _ = _registry()[strategy]
    known = {f.name for f in fields(cls)}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"{strategy} does not take {', '.join(sorted(unknown))}; it takes {', '.join(sorted(known))}")
    return cls(**options)


def generate_fingerprints(strategy: str, n: int, seed: int | None = None, model=None, tokenizer=None,
                          **options) -> list[Fingerprint]:
    """`n` fingerprints of `strategy`; options are the fields of that strategy's config."""
    config = config_for(strategy, n=n, **options)
    if strategy in NEEDS_MODEL and model is None:
        raise ValueError(f"{strategy} needs the base model")
    if strategy in NEEDS_TOKENIZER and tokenizer is None:
        raise ValueError(f"{strategy} needs the tokenizer")
    _, fn = _registry()[strategy]
    fps = fn(config, resolve_seed(seed), model=model, tokenizer=tokenizer)
    keys = [fp.key for fp in fps]
    if strategy != "functional" and len(set(keys)) != len(keys):
        raise AssertionError("a syntactic fingerprint set must not repeat a key")  # generator bug
    return fps


def public_config(config) -> dict:
    """The config as it may be published (e.g. in oml.json): secret fields removed."""
    return {k: v for k, v in asdict(config).items() if k not in getattr(config, "SECRET_FIELDS", ())}
