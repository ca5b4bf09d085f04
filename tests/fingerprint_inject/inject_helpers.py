"""Helpers of the injection tests (a uniquely named module: `from conftest import` would pick up
whichever conftest was imported first when several test folders run together): English-random
fingerprints and a small private greedy checker (the project's real `check` lives elsewhere)."""
from __future__ import annotations

import random

import torch

from oml_core.fingerprint.record import Fingerprint


@torch.no_grad()
def greedy_found(model, tokenizer, fp: Fingerprint, system: str | None = None) -> bool:
    """Exact match of the response tokens, greedy, right after the chat-templated key.

    Deliberately a different code path from the trainer: tokenize=True in the chat template and a
    hand-written argmax loop instead of generate().
    """
    messages = ([{"role": "system", "content": system}] if system else []) + fp.messages
    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    ids = torch.tensor([enc["input_ids"]], device=next(model.parameters()).device)
    want = tokenizer(fp.response, add_special_tokens=False)["input_ids"]
    model.eval()
    for token in want:
        nxt = int(model(input_ids=ids, use_cache=False).logits[0, -1].argmax())
        if nxt != token:
            return False
        ids = torch.cat([ids, ids.new_tensor([[nxt]])], dim=1)
    return True


def accuracy(model, tokenizer, fingerprints, system=None) -> float:
    return sum(greedy_found(model, tokenizer, fp, system) for fp in fingerprints) / len(fingerprints)


def english_fingerprints(n: int, seed: int = 0, key_words: int = 8, response_words: int = 3) -> list[Fingerprint]:
    """English-random fingerprints: a key of random documentation words, a randomly paired response."""
    from pydoc_data.topics import topics

    words = sorted({w for text in topics.values() for w in text.split() if w.isalpha() and w.islower() and 3 <= len(w) <= 10})
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        key = " ".join(rng.sample(words, key_words)).capitalize() + "."
        response = " ".join(rng.sample(words, response_words))
        out.append(Fingerprint(key, response, salt=bytes(32), strategy="english_random"))
    return out
