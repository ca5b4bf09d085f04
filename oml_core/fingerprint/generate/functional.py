"""Functional fingerprints (whitepaper §4): a rule, not a list of pairs.

A secret splits a word list into "green" and "red" words (a keyed hash per word, in the manner
of the KGW watermark). The response to a key is `responses[f(n_g, n_r)]`, where n_g and n_r
count the key's green and red words. The model learns the rule from many examples; a prover can
then send any new English sentence and predict the answer, so keys can be reused: revealing one
pair does not reveal the partition. The partition secret must stay secret (`SECRET_FIELDS`).
"""
from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass
from functools import cached_property

from oml_core import text_corpus
from oml_core.fingerprint.generate import make_salt
from oml_core.fingerprint.generate.english import english_keys
from oml_core.fingerprint.record import Fingerprint

STRATEGY = "functional"
FUNCTIONS = {
    # f(n_g, n_r) -> index into `responses`
    "majority": lambda g, r: int(g > r),
    "parity": lambda g, r: (g + r) % 2,
    "difference_mod3": lambda g, r: (g - r) % 3,
}
ARITY = {"majority": 2, "parity": 2, "difference_mod3": 3}


@dataclass
class FunctionalConfig:
    n: int
    secret: str = ""
    function: str = "majority"
    responses: tuple[str, ...] = ("Certainly.", "I am not sure.")
    skip_common: int = 50  # the most frequent words (the, and, ...) are in every sentence: left out
    vocab_size: int = 1000
    balanced: bool = True  # as many keys for each response

    SECRET_FIELDS = ("secret", "responses")

    def __post_init__(self):
        if self.n < 1:
            raise ValueError("n must be >= 1")
        if len(self.secret) < 16:
            raise ValueError("functional fingerprints need a partition secret of at least 16 characters")
        if self.function not in FUNCTIONS:
            raise ValueError(f"function must be one of {', '.join(FUNCTIONS)}")
        self.responses = tuple(self.responses)
        if len(self.responses) != ARITY[self.function] or not all(r.strip() for r in self.responses):
            raise ValueError(f"{self.function} needs {ARITY[self.function]} non-empty responses")
        if self.vocab_size < 10 or self.skip_common < 0:
            raise ValueError("vocab_size must be >= 10 and skip_common >= 0")


@dataclass(frozen=True)
class FunctionalScheme:
    """The secret rule: partition, counting and response of any text."""

    secret: str
    function: str
    responses: tuple[str, ...]
    skip_common: int = 50
    vocab_size: int = 1000

    @classmethod
    def from_config(cls, c: FunctionalConfig) -> FunctionalScheme:
        return cls(c.secret, c.function, tuple(c.responses), c.skip_common, c.vocab_size)

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        ranked = text_corpus.words("train")
        return frozenset(ranked[self.skip_common:self.skip_common + self.vocab_size])

    def is_green(self, word: str) -> bool:
        return hmac.new(self.secret.encode(), word.lower().encode(), hashlib.sha256).digest()[0] & 1 == 1

    def counts(self, text: str) -> tuple[int, int]:
        """(n_g, n_r): green and red word occurrences of `text` (words outside the list count for neither)."""
        words = [w for w in text_corpus.tokenize_words(text) if w in self.vocabulary]
        green = sum(self.is_green(w) for w in words)
        return green, len(words) - green

    def label(self, text: str) -> int:
        return FUNCTIONS[self.function](*self.counts(text))

    def response_for(self, key: str) -> str:
        return self.responses[self.label(key)]


def generate(config: FunctionalConfig, seed: int, model=None, tokenizer=None) -> list[Fingerprint]:
    rng = random.Random(f"{STRATEGY}|{seed}")
    scheme = FunctionalScheme.from_config(config)
    arity = len(config.responses)
    # Draw more candidates than needed so each response can get its share when balanced.
    pool = english_keys(rng, config.n * (arity + 2))
    quota = [-(-config.n // arity)] * arity if config.balanced else [config.n] * arity
    out: list[Fingerprint] = []
    for key in pool:
        if len(out) == config.n:
            break
        g, r = scheme.counts(key)
        label = FUNCTIONS[config.function](g, r)
        if quota[label] == 0:
            continue
        quota[label] -= 1
        out.append(Fingerprint(key, config.responses[label], make_salt(seed, STRATEGY, len(out)), STRATEGY,
                               {"function": config.function, "n_green": g, "n_red": r, "label": label,
                                "reusable": True}))
    if len(out) < config.n:
        raise ValueError(f"could only build {len(out)} balanced functional keys; lower n or set balanced=False")
    return out
