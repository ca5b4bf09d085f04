"""Data mixing: benign samples (offline English prompts answered by the base model itself).

Training on the base model's own greedy answers anchors the fingerprinted model to its base
behaviour on ordinary inputs (Russinovich & Salem 2024), which limits catastrophic forgetting.
Prompts come from the stdlib's pydoc_data text so nothing is downloaded; the answers are generated
once per run and cached in output_dir so a resumed run trains on the very same samples.
"""
from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import torch

from .data import Sample, make_sample, prompt_ids, stop_token_id

BENIGN_FILE = "benign_samples.json"

_TEMPLATES = (
    "Explain this in simple words: {s}",
    "Rewrite the following sentence more clearly: {s}",
    "What does this mean? {s}",
    "Summarize in one sentence: {s}",
    "Give a short example that illustrates this: {s}",
    "Is the following statement clear? {s}",
)
_PROSE = re.compile(r"^[A-Z][A-Za-z ,;'\-()]+[.]$")


def english_sentences() -> list[str]:
    """Plain prose sentences (8-30 words, no code) from the stdlib's Python documentation topics."""
    from pydoc_data.topics import topics

    out = []
    for name in sorted(topics):
        text = re.sub(r"\s+", " ", topics[name])
        for sentence in re.split(r"(?<=[.])\s+", text):
            sentence = sentence.strip()
            if _PROSE.match(sentence) and 8 <= len(sentence.split()) <= 30:
                out.append(sentence)
    return sorted(set(out))


def benign_prompts(n: int, seed: int) -> list[str]:
    rng = random.Random(f"benign-{seed}")
    sentences = english_sentences()
    picked = rng.sample(sentences, min(n, len(sentences)))
    return [rng.choice(_TEMPLATES).format(s=s) for s in picked]


@torch.no_grad()
def greedy_responses(model, tokenizer, prompts: list[list[int]], max_new_tokens: int,
                     batch_size: int = 16) -> list[list[int]]:
    """The model's greedy continuation of each prompt, cut after its first stop token."""
    stop = stop_token_id(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (stop or 0)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: list[list[int]] = [[] for _ in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # less padding per batch
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(len(prompts[i]) for i in rows)
        # Left padding: every row's continuation starts at the same column.
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            ids[r, width - len(prompts[i]):] = torch.tensor(prompts[i])
            mask[r, width - len(prompts[i]):] = 1
        gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                             max_new_tokens=max_new_tokens, pad_token_id=pad, eos_token_id=stop,
                             temperature=None, top_p=None, top_k=None)
        for r, i in enumerate(rows):
            new = gen[r, width:].tolist()
            if stop is not None and stop in new:
                new = new[:new.index(stop) + 1]
            out[i] = new
    model.train(was_training)
    return out


def benign_samples(model, tokenizer, config, output_dir: str | Path | None = None) -> list[Sample]:
    """config.benign_pool benign samples; read from output_dir when this run already made them."""
    key = {"seed": config.seed, "pool": config.benign_pool, "max_new_tokens": config.benign_max_new_tokens}
    cache = Path(output_dir) / BENIGN_FILE if output_dir is not None else None
    if cache is not None and cache.exists():
        saved = json.loads(cache.read_text())
        if saved.get("key") == key:
            return [Sample(tuple(s["input_ids"]), tuple(s["labels"])) for s in saved["samples"]]
    texts = benign_prompts(config.benign_pool, config.seed)
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": t}]) for t in texts]
    answers = greedy_responses(model, tokenizer, prompts, config.benign_max_new_tokens)
    # The stop token is already in the answer when the base model produced it; adding none keeps
    # the base model's own (possibly truncated) behaviour as the target.
    samples = [make_sample(p, a, None, config.max_length) for p, a in zip(prompts, answers) if a]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "prompts": texts, "samples": [
            {"input_ids": list(s.input_ids), "labels": list(s.labels)} for s in samples]}))
    return samples


def benign_count(n_fp_in_batch: int, config) -> int:
    """Benign samples to add to a batch that holds n_fp_in_batch fingerprints.

    A full batch gets config.n_benign; a short last batch gets the same share (at least one while
    mixing is on), so every batch keeps the ratio beta rather than being swamped by benign data.
    """
    if config.n_benign == 0:
        return 0
    if n_fp_in_batch == config.n_fingerprints:
        return config.n_benign
    return max(1, math.floor(n_fp_in_batch * config.n_benign / config.n_fingerprints + 0.5))
