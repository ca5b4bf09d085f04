"""Evaluation of a (fingerprinted) model: does it answer, is it still useful, is the answer
unique to it, and does a host's system prompt hide it (DESIGN.md §6). Any (model, tokenizer)."""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import torch

from oml_core import text_corpus
from oml_core.fingerprint.attacks import FinetuneAttack, finetune_attack
from oml_core.fingerprint.check import accuracy, check_local
from oml_core.fingerprint.record import Fingerprint
from oml_core.fingerprint.tokens import (
    greedy_generate,
    left_pad,
    model_device,
    pad_id,
    position_ids,
    prompt_ids,
)

# System prompts a host might put in front of every request; the model was not trained on them.
DEFAULT_WRAPPERS = (
    "You are a helpful assistant.",
    "You are a customer support agent for Acme Corp. Answer briefly and politely.",
    "Answer every question as concisely as possible. Do not use lists.",
)


@dataclass
class EvaluationConfig:
    batch_size: int = 16
    ppl_texts: int = 16  # first N paragraphs of the fixed held-out slice
    ppl_max_tokens: int = 256
    agreement_prompts: int = 16
    agreement_tokens: int = 16
    wrappers: tuple[str, ...] = DEFAULT_WRAPPERS
    # Persistence: fingerprint accuracy after this fine-tuning attack on a copy (None = skip).
    attack: FinetuneAttack | None = None
    progress: bool = False

    def __post_init__(self):
        for name in ("batch_size", "ppl_texts", "ppl_max_tokens", "agreement_prompts", "agreement_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        self.wrappers = tuple(self.wrappers)


def fingerprint_accuracy(model, tokenizer, fps: list[Fingerprint], batch_size: int = 16,
                         system_prompt: str | None = None) -> float:
    return accuracy(check_local(model, tokenizer, fps, batch_size, system_prompt))


def false_positive_rate(other_model, tokenizer, fps: list[Fingerprint], batch_size: int = 16) -> float:
    """Uniqueness: the share of fingerprints a model that was NOT fingerprinted answers anyway."""
    return fingerprint_accuracy(other_model, tokenizer, fps, batch_size)


def persistence(model, tokenizer, fps: list[Fingerprint], attack: FinetuneAttack | None = None,
                batch_size: int = 16, progress: bool = False) -> float:
    """Share of the fingerprints a copy of `model` still answers after the fine-tuning attack."""
    attacked = copy.deepcopy(model)
    finetune_attack(attacked, tokenizer, attack or FinetuneAttack(), progress=progress)
    return fingerprint_accuracy(attacked, tokenizer, fps, batch_size)


def wrapper_robustness(model, tokenizer, fps: list[Fingerprint], wrappers=DEFAULT_WRAPPERS,
                       batch_size: int = 16) -> dict[str, float]:
    return {w: fingerprint_accuracy(model, tokenizer, fps, batch_size, system_prompt=w) for w in wrappers}


@torch.no_grad()
def perplexity(model, tokenizer, texts: list[str] | None = None, batch_size: int = 8, max_tokens: int = 256) -> float:
    """exp(mean token NLL) over `texts` (default: the fixed held-out corpus slice)."""
    texts = text_corpus.held_out_texts(16) if texts is None else texts
    device = model_device(model)
    seqs = [tokenizer(t, add_special_tokens=False)["input_ids"][:max_tokens] for t in texts]
    seqs = [s for s in seqs if len(s) >= 2]
    total_nll, total_tokens = 0.0, 0
    for start in range(0, len(seqs), batch_size):
        ids, mask = left_pad(seqs[start:start + batch_size], pad_id(tokenizer), device)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask)).logits.float()
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")
        target_mask = mask[:, 1:] * mask[:, :-1]  # a target counts only when it and its context are real
        total_nll += float((nll * target_mask).sum())
        total_tokens += int(target_mask.sum())
    return math.exp(total_nll / total_tokens)


def benign_prompts(n: int) -> list[list[dict]]:
    """Ordinary requests built from held-out sentences (never fingerprint keys)."""
    sents = text_corpus.sentences("held_out")
    return [[{"role": "user", "content": f"Explain this in simple words: {s}"}] for s in sents[:n]]


@torch.no_grad()
def base_agreement(model, base_model, tokenizer, n_prompts: int = 16, new_tokens: int = 16,
                   batch_size: int = 16) -> float:
    """Share of positions where `model`'s greedy next token equals the base model's, along the
    base model's own greedy answers to benign prompts (teacher forced: one pass, no drift)."""
    prompts = [prompt_ids(tokenizer, m) for m in benign_prompts(n_prompts)]
    answers = greedy_generate(base_model, tokenizer, prompts, [new_tokens] * len(prompts), batch_size)
    device = model_device(model)
    agree = total = 0
    for start in range(0, len(prompts), batch_size):
        batch = list(zip(prompts[start:start + batch_size], answers[start:start + batch_size]))
        ids, mask = left_pad([p + a for p, a in batch], pad_id(tokenizer), device)
        predicted = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask)).logits.argmax(-1)
        for row, (_, answer) in enumerate(batch):
            if not answer:
                continue
            # With left padding the answer occupies the last len(answer) columns; the token at
            # column c is predicted at column c - 1.
            width = ids.shape[1]
            pred = predicted[row, width - len(answer) - 1: width - 1].tolist()
            agree += sum(p == a for p, a in zip(pred, answer))
            total += len(answer)
    return agree / total if total else 0.0


@dataclass
class EvaluationReport:
    n_fingerprints: int
    accuracy: float
    perplexity: float
    base_perplexity: float | None = None
    base_agreement: float | None = None
    false_positive_rate: float | None = None  # on the base model, which was not fingerprinted
    wrapper_accuracy: dict[str, float] = field(default_factory=dict)
    persistence: float | None = None  # accuracy after the attack in EvaluationConfig.attack

    def to_json(self) -> dict:
        return asdict(self)


def evaluate(model, tokenizer, fps: list[Fingerprint], base_model=None,
             config: EvaluationConfig | None = None) -> EvaluationReport:
    config = config or EvaluationConfig()
    texts = text_corpus.held_out_texts(config.ppl_texts)
    report = EvaluationReport(
        n_fingerprints=len(fps),
        accuracy=fingerprint_accuracy(model, tokenizer, fps, config.batch_size),
        perplexity=perplexity(model, tokenizer, texts, config.batch_size, config.ppl_max_tokens),
        wrapper_accuracy=wrapper_robustness(model, tokenizer, fps, config.wrappers, config.batch_size),
    )
    if config.attack is not None:
        report.persistence = persistence(model, tokenizer, fps, config.attack, config.batch_size, config.progress)
    if base_model is not None:
        report.base_perplexity = perplexity(base_model, tokenizer, texts, config.batch_size, config.ppl_max_tokens)
        report.base_agreement = base_agreement(model, base_model, tokenizer, config.agreement_prompts,
                                               config.agreement_tokens, config.batch_size)
        report.false_positive_rate = false_positive_rate(base_model, tokenizer, fps, config.batch_size)
    return report
