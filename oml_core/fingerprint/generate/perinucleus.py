"""Perinucleus fingerprints (whitepaper §2.2; Nasery et al. 2025).

Key: in-distribution text, either sampled from the base model itself (continuing the opening
words of a corpus sentence) or taken from the offline corpus. Response: its first token is drawn
just OUTSIDE the top-p nucleus of the base model's next-token distribution for the key: sort
the probabilities, take the smallest head whose mass reaches `threshold`, then pick uniformly
among the next `k` tokens after it. Close enough to the head to stay in distribution (little
forgetting when it is learned), outside it so the base model does not already answer it.
Further response tokens (response_length > 1) are the base model's greedy continuation.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

import torch

from oml_core import text_corpus
from oml_core.fingerprint.generate import make_salt
from oml_core.fingerprint.generate.english import english_keys
from oml_core.fingerprint.record import Fingerprint
from oml_core.fingerprint.tokens import (
    decode,
    greedy_generate,
    last_token_logits,
    left_pad,
    model_device,
    pad_id,
    prompt_ids,
)
from oml_core.progress import track

STRATEGY = "perinucleus"
KEY_SOURCES = ("model", "text")


@dataclass
class PerinucleusConfig:
    n: int
    threshold: float = 0.8
    k: int = 3
    response_length: int = 1
    key_source: str = "model"
    key_tokens: int = 24
    batch_size: int = 16
    progress: bool = False

    def __post_init__(self):
        if self.n < 1:
            raise ValueError("n must be >= 1")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must be in (0, 1)")
        if self.k < 1 or self.response_length < 1 or self.key_tokens < 4 or self.batch_size < 1:
            raise ValueError("k, response_length, batch_size must be >= 1 and key_tokens >= 4")
        if self.key_source not in KEY_SOURCES:
            raise ValueError(f"key_source must be one of {KEY_SOURCES}, got {self.key_source!r}")


@dataclass(frozen=True)
class Pick:
    token_id: int
    nucleus_size: int  # tokens in the top-p head
    rank: int  # 0-based rank of the picked token in the sorted distribution (>= nucleus_size)
    prob: float


def nucleus_size(probs: torch.Tensor, threshold: float) -> tuple[int, torch.Tensor]:
    """(m, ids sorted by descending probability): the top m tokens hold >= threshold mass."""
    sorted_probs, sorted_ids = probs.sort(descending=True)
    cumulative = sorted_probs.double().cumsum(0)
    m = int(torch.searchsorted(cumulative, torch.tensor([threshold], dtype=torch.float64)).item()) + 1
    return min(m, len(probs)), sorted_ids


def perinucleus_pick(probs: torch.Tensor, threshold: float, k: int, rng: random.Random, eligible) -> Pick:
    """Uniform pick among the first `k` eligible tokens ranked just after the nucleus."""
    m, sorted_ids = nucleus_size(probs, threshold)
    candidates = []
    for rank in range(m, len(sorted_ids)):
        token = int(sorted_ids[rank])
        if eligible(token):
            candidates.append((rank, token))
            if len(candidates) == k:
                break
    if not candidates:
        raise ValueError("no eligible token outside the nucleus")
    rank, token = rng.choice(candidates)
    return Pick(token, m, rank, float(probs[token]))


def token_filter(tokenizer):
    """Ordinary tokens only: not special, visible, and re-tokenized to themselves, so the
    response text means exactly this token to the checker."""
    special = set(tokenizer.all_special_ids)
    cache: dict[int, bool] = {}

    def eligible(token: int) -> bool:
        if token not in cache:
            text = decode(tokenizer, [token])
            cache[token] = (token not in special and bool(text.strip()) and "\ufffd" not in text
                            and tokenizer(text, add_special_tokens=False)["input_ids"] == [token])
        return cache[token]
    return eligible


def _torch_seed(*parts) -> int:
    digest = hashlib.sha256("|".join(map(str, (STRATEGY, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _clean_key(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", text)]
    return text[: ends[-1]] if ends and ends[-1] > len(text) // 2 else text


@torch.no_grad()
def model_keys(model, tokenizer, rng: random.Random, seed: int, config: PerinucleusConfig) -> list[str]:
    """Keys the base model writes itself: continuations of the opening words of corpus sentences."""
    device = model_device(model)
    from transformers import GenerationConfig

    keys: list[str] = []
    seen: set[str] = set()
    pool = text_corpus.sentences("train")
    attempt = 0
    while len(keys) < config.n:
        attempt += 1
        if attempt > 20:
            raise RuntimeError("the base model keeps writing duplicate keys")
        prefixes = [" ".join(rng.choice(pool).split()[:3]) for _ in range(config.n - len(keys))]
        for start in track(range(0, len(prefixes), config.batch_size), "sampling keys", enabled=config.progress):
            batch = prefixes[start:start + config.batch_size]
            ids, mask = left_pad([tokenizer(p, add_special_tokens=False)["input_ids"] for p in batch],
                                 pad_id(tokenizer), device)
            gen_config = GenerationConfig(do_sample=True, top_p=0.95, top_k=0, temperature=1.0,
                                          max_new_tokens=config.key_tokens, min_new_tokens=config.key_tokens // 2,
                                          pad_token_id=pad_id(tokenizer), eos_token_id=tokenizer.eos_token_id)
            # A private RNG stream per batch: same seed, same keys, whatever ran before.
            devices = [device] if device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(_torch_seed(seed, attempt, start))
                gen = model.generate(input_ids=ids, attention_mask=mask, generation_config=gen_config)
            for prefix, row in zip(batch, gen[:, ids.shape[1]:].tolist()):
                key = _clean_key(prefix + decode(tokenizer, row, skip_special_tokens=True))
                if key and key not in seen and len(keys) < config.n:
                    seen.add(key)
                    keys.append(key)
    return keys


def generate(config: PerinucleusConfig, seed: int, model=None, tokenizer=None) -> list[Fingerprint]:
    rng = random.Random(f"{STRATEGY}|{seed}")
    if config.key_source == "text":
        keys = english_keys(rng, config.n)
    else:
        keys = model_keys(model, tokenizer, rng, seed, config)
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": key}]) for key in keys]
    probs = torch.softmax(last_token_logits(model, prompts, config.batch_size), dim=-1)
    eligible = token_filter(tokenizer)
    picks = [perinucleus_pick(p, config.threshold, config.k, rng, eligible) for p in probs]
    responses = [[p.token_id] for p in picks]
    if config.response_length > 1:
        rest = greedy_generate(model, tokenizer, [pr + [p.token_id] for pr, p in zip(prompts, picks)],
                               [config.response_length - 1] * len(prompts), config.batch_size)
        special = set(tokenizer.all_special_ids)  # an EOS can only end a continuation: drop it
        responses = [[p.token_id] + [t for t in r if t not in special] for p, r in zip(picks, rest)]
    out = []
    for i, (key, pick, ids) in enumerate(zip(keys, picks, responses)):
        # Keep the longest prefix whose text re-tokenizes to itself (the first token always does).
        while len(ids) > 1 and tokenizer(decode(tokenizer, ids), add_special_tokens=False)["input_ids"] != ids:
            ids = ids[:-1]
        meta = {"threshold": config.threshold, "k": config.k, "key_source": config.key_source,
                "nucleus_size": pick.nucleus_size, "rank": pick.rank, "prob": round(pick.prob, 6),
                "response_token_ids": ids}
        out.append(Fingerprint(key, decode(tokenizer, ids), make_salt(seed, STRATEGY, i), STRATEGY, meta))
    return out
