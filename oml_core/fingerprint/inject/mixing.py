"""Data mixing: benign samples (offline English prompts answered by the base model itself) and
anchor passages (plain prose on which the model is held to the base's distribution).

Training on the base model's own answers anchors the fingerprinted model to its base behaviour
on ordinary inputs (Russinovich & Salem 2024), which limits catastrophic forgetting. Prompts and
passages come from the TRAIN split of the offline corpus (oml_core.text_corpus), never from the
held-out text that perplexity is measured on. The answers are generated once per run and cached
in output_dir so a resumed run trains on the very same samples.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from pathlib import Path

import torch

from oml_core import text_corpus

from .data import IGNORE, Sample, make_sample, prompt_ids, stop_token_id

BENIGN_FILE = "benign_samples.json"

_TEMPLATES = (
    "Explain this in simple words: {s}",
    "Rewrite the following sentence more clearly: {s}",
    "What does this mean? {s}",
    "Summarize in one sentence: {s}",
    "Give a short example that illustrates this: {s}",
    "Is the following statement clear? {s}",
)


def benign_prompts(n: int, seed: int) -> list[str]:
    """`n` requests about train-split sentences (held-out sentences would leak into perplexity)."""
    rng = random.Random(f"benign-{seed}")
    sentences = list(text_corpus.sentences("train", min_words=8))
    picked = rng.sample(sentences, min(n, len(sentences)))
    return [rng.choice(_TEMPLATES).format(s=s) for s in picked]


def anchor_texts(n: int, seed: int) -> list[str]:
    """`n` prose paragraphs of the train split (a fixed pick under `seed`)."""
    rng = random.Random(f"anchor-{seed}")
    paragraphs = list(text_corpus.paragraphs("train"))
    return rng.sample(paragraphs, min(n, len(paragraphs)))


def anchor_samples(tokenizer, config) -> list[Sample]:
    """config.benign_pool anchor passages of up to config.anchor_tokens tokens, plain text (no chat
    template, as perplexity reads prose); every position after the first is distilled."""
    out = []
    for text in anchor_texts(config.benign_pool, config.seed):
        ids = tuple(tokenizer(text, add_special_tokens=False)["input_ids"][:config.anchor_tokens])
        if len(ids) >= 2:
            out.append(Sample(ids, (IGNORE,) + ids[1:], distill=True))
    return out


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
    # "prompts": which sentences the prompts come from (a cache made before the train-split fix differs).
    key = {"seed": config.seed, "pool": config.benign_pool, "max_new_tokens": config.benign_max_new_tokens,
           "prompts": "train-split"}
    distill = config.benign_loss == "kl"
    cache = Path(output_dir) / BENIGN_FILE if output_dir is not None else None
    if cache is not None and cache.exists():
        saved = json.loads(cache.read_text())
        if saved.get("key") == key:
            return [Sample(tuple(s["input_ids"]), tuple(s["labels"]), distill) for s in saved["samples"]]
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
    return [replace(s, distill=distill) for s in samples]


def share_count(n_fp_in_batch: int, per_batch: int, config) -> int:
    """Benign (or anchor) samples to add to a batch that holds n_fp_in_batch fingerprints, when a
    full batch holds `per_batch` of them.

    A full batch gets per_batch; a short last batch gets the same share (at least one while the
    kind is on), so every batch keeps the ratio rather than being swamped by benign data.
    """
    if per_batch == 0:
        return 0
    if n_fp_in_batch == config.n_fingerprints:
        return per_batch
    return max(1, math.floor(n_fp_in_batch * per_batch / config.n_fingerprints + 0.5))
