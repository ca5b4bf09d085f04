"""English-random fingerprints: an in-distribution English key paired with an unrelated
English word or short phrase.

Key and response are each ordinary English; only their pairing is arbitrary, which is what
makes the response unique to the fingerprinted model. The whitepaper (§2.2) reports this does
not scale past a few hundred and persists poorly; it is here as the classic baseline.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from oml_core import text_corpus
from oml_core.fingerprint.generate import make_salt
from oml_core.fingerprint.record import Fingerprint

STRATEGY = "english_random"


@dataclass
class EnglishRandomConfig:
    n: int
    min_response_words: int = 1
    max_response_words: int = 3

    def __post_init__(self):
        if self.n < 1:
            raise ValueError("n must be >= 1")
        if not 1 <= self.min_response_words <= self.max_response_words:
            raise ValueError("need 1 <= min_response_words <= max_response_words")


def english_keys(rng: random.Random, n: int) -> list[str]:
    """`n` distinct English keys: corpus sentences, then pairs of sentences once those run out."""
    pool = list(text_corpus.sentences("train"))
    rng.shuffle(pool)
    keys = pool[:n]
    seen = set(keys)
    while len(keys) < n:
        key = " ".join(rng.sample(pool, 2))
        if key not in seen:
            seen.add(key)
            keys.append(key)
    return keys


def random_phrase(rng: random.Random, min_words: int, max_words: int) -> str:
    """A contiguous run of words from a random corpus sentence: English, but unrelated to the key."""
    pool = text_corpus.sentences("train")
    # A response that opens with "the" or "and" is what any model might say: start on a rarer word.
    common = set(text_corpus.words("train")[:50])
    while True:
        words = text_corpus.tokenize_words(rng.choice(pool))
        length = rng.randint(min_words, max_words)
        if len(words) >= length:
            start = rng.randrange(len(words) - length + 1)
            if words[start] in common:
                continue
            phrase = " ".join(words[start:start + length])
            return phrase[0].upper() + phrase[1:]


def generate(config: EnglishRandomConfig, seed: int, model=None, tokenizer=None) -> list[Fingerprint]:
    rng = random.Random(f"{STRATEGY}|{seed}")
    keys = english_keys(rng, config.n)
    return [Fingerprint(key, random_phrase(rng, config.min_response_words, config.max_response_words),
                        make_salt(seed, STRATEGY, i), STRATEGY, {})
            for i, key in enumerate(keys)]
