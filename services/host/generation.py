"""Text generation with transformers for the gateway: one model, one generation at a time (the
CPU or GPU is saturated by one; requests queue on the lock, their σ already obtained).

The prompt is `oml_core.fingerprint.tokens.prompt_ids` (the chat template the fingerprints
were trained with), and answers are decoded the way `check_endpoint` compares them.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from oml_core.fingerprint.tokens import decode, pad_id, prompt_ids


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float | None = None  # None or 0: greedy
    top_p: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (EOS) or "length"


class ContextTooLong(ValueError):
    """Prompt plus budget exceed the model's context."""


class _TokenQueue:
    """A transformers streamer: generate() puts the prompt, then each new token, then ends."""

    _END = object()

    def __init__(self):
        self.items: queue.Queue = queue.Queue()
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # the first put is the prompt itself
            self._prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.items.put(token)

    def end(self) -> None:
        self.items.put(self._END)

    def fail(self, exc: BaseException) -> None:
        self.items.put(exc)

    def __iter__(self) -> Iterator[int]:
        while True:
            item = self.items.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class Generator:
    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer
        self.device = next(model.parameters()).device
        self.context = int(getattr(model.config, "max_position_embeddings", 0) or 0)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path, device: str | None = None) -> Generator:
        from oml_core.model.loading import load_model

        model, tokenizer = load_model(path, device=device)
        return cls(model, tokenizer)

    def prompt(self, messages: list[dict]) -> list[int]:
        return prompt_ids(self.tokenizer, messages)

    def check_fits(self, prompt: list[int], sampling: Sampling) -> None:
        if self.context and len(prompt) + sampling.max_tokens > self.context:
            raise ContextTooLong(f"prompt ({len(prompt)} tokens) plus max_tokens ({sampling.max_tokens}) "
                                 f"exceed the model's context of {self.context} tokens")

    def generate(self, prompt: list[int], sampling: Sampling) -> Generation:
        tokens = list(self._tokens(prompt, sampling))
        return self._result(prompt, tokens, sampling)

    def stream(self, prompt: list[int], sampling: Sampling) -> Iterator[str | Generation]:
        """Text deltas as tokens come, then the final Generation."""
        tokens: list[int] = []
        sent = ""
        for token in self._tokens(prompt, sampling):
            tokens.append(token)
            text = self._text(tokens)
            if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                continue
            if len(text) > len(sent) and text.startswith(sent):
                yield text[len(sent):]
                sent = text
        final = self._result(prompt, tokens, sampling)
        if final.text.startswith(sent) and len(final.text) > len(sent):
            yield final.text[len(sent):]
        yield final

    def _text(self, tokens: list[int]) -> str:
        return decode(self.tokenizer, tokens, skip_special_tokens=True)

    def _result(self, prompt: list[int], tokens: list[int], sampling: Sampling) -> Generation:
        eos = self.tokenizer.eos_token_id
        stopped = eos is not None and eos in tokens
        if stopped:
            tokens = tokens[: tokens.index(eos) + 1]
        reason = "stop" if stopped or len(tokens) < sampling.max_tokens else "length"
        return Generation(self._text(tokens), len(prompt), len(tokens), reason)

    def _tokens(self, prompt: list[int], sampling: Sampling) -> Iterator[int]:
        """Runs generate() in a worker thread, holding the model lock, and yields its tokens."""
        from transformers import GenerationConfig

        streamer = _TokenQueue()
        sample = bool(sampling.temperature)
        config = GenerationConfig(
            do_sample=sample, max_new_tokens=sampling.max_tokens, pad_token_id=pad_id(self.tokenizer),
            eos_token_id=self.tokenizer.eos_token_id,
            **({"temperature": sampling.temperature, "top_p": sampling.top_p or 1.0, "top_k": 0} if sample else {}))
        ids = torch.tensor([prompt], dtype=torch.long, device=self.device)

        def run() -> None:
            try:
                with self._lock, torch.no_grad():
                    if sample and sampling.seed is not None:
                        torch.manual_seed(sampling.seed)  # global RNG: safe under the model lock
                    self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                        generation_config=config, streamer=streamer)
                streamer.end()
            except BaseException as exc:  # noqa: BLE001 - surfaced to the consumer
                streamer.fail(exc)

        threading.Thread(target=run, name="oml-generate", daemon=True).start()
        yield from streamer
