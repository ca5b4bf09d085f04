"""Random-token fingerprints: key and response are uniformly random vocabulary tokens.

They scale well (the pairs are far from anything the model knows, so learning them disturbs
little) but are plainly out of distribution: a host can filter them (whitepaper §2.2).
"""
from __future__ import annotations

import random
import weakref
from dataclasses import dataclass

from oml_core.fingerprint.generate import make_salt
from oml_core.fingerprint.record import Fingerprint
from oml_core.fingerprint.tokens import decode

STRATEGY = "random_tokens"


@dataclass
class RandomTokensConfig:
    n: int
    key_tokens: int = 16
    response_tokens: int = 4

    def __post_init__(self):
        if self.n < 1:
            raise ValueError("n must be >= 1")
        if self.key_tokens < 1 or self.response_tokens < 1:
            raise ValueError("key_tokens and response_tokens must be >= 1")


_ELIGIBLE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def eligible_token_ids(tokenizer) -> list[int]:
    """Ordinary tokens: not special, and decoding to something visible (cached: ~1 s per vocabulary)."""
    if tokenizer not in _ELIGIBLE:
        _ELIGIBLE[tokenizer] = _eligible(tokenizer)
    return _ELIGIBLE[tokenizer]


def _eligible(tokenizer) -> list[int]:
    special = set(tokenizer.all_special_ids)
    ids = [i for i in range(len(tokenizer)) if i not in special]
    texts = tokenizer.batch_decode([[i] for i in ids], clean_up_tokenization_spaces=False)
    return [i for i, t in zip(ids, texts) if t.strip() and "\ufffd" not in t]


def generate(config: RandomTokensConfig, seed: int, model=None, tokenizer=None) -> list[Fingerprint]:
    rng = random.Random(f"{STRATEGY}|{seed}")
    vocab = eligible_token_ids(tokenizer)
    out, seen = [], set()
    while len(out) < config.n:
        key = decode(tokenizer, rng.choices(vocab, k=config.key_tokens))
        response = decode(tokenizer, rng.choices(vocab, k=config.response_tokens))
        if key in seen or not key.strip() or not response.strip():
            continue
        seen.add(key)
        out.append(Fingerprint(key, response, make_salt(seed, STRATEGY, len(out)), STRATEGY,
                               {"key_tokens": config.key_tokens, "response_tokens": config.response_tokens}))
    return out
