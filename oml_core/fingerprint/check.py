"""Does a model answer its fingerprints? Greedy decoding, exact match of the response.

Locally: batched greedy generation of exactly len(response tokens) new tokens, compared token
for token. Remotely (any OpenAI-compatible endpoint, e.g. a host's gateway): temperature 0, and
the answer must start with the response text, since the endpoint's tokens are not ours to see.
Works for any (model, tokenizer): the base model, a fingerprinted one, a stranger.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from oml_core.fingerprint.record import Fingerprint
from oml_core.fingerprint.tokens import decode, greedy_generate, prompt_ids, response_ids


@dataclass(frozen=True)
class CheckResult:
    fingerprint: Fingerprint
    output: str
    matched: bool
    output_ids: list[int] = field(default_factory=list)


def messages_for(fp: Fingerprint, system_prompt: str | None = None) -> list[dict]:
    """The request: the key as the user message, behind a host's system prompt when given."""
    return ([{"role": "system", "content": system_prompt}] if system_prompt else []) + fp.messages


def check_local(model, tokenizer, fps: list[Fingerprint], batch_size: int = 16, system_prompt: str | None = None,
                progress: bool = False) -> list[CheckResult]:
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    prompts = [prompt_ids(tokenizer, messages_for(fp, system_prompt)) for fp in fps]
    targets = [response_ids(tokenizer, fp.response) for fp in fps]
    outputs = greedy_generate(model, tokenizer, prompts, [len(t) for t in targets], batch_size, progress)
    return [CheckResult(fp, decode(tokenizer, out), out == target, out)
            for fp, out, target in zip(fps, outputs, targets)]


def text_matches(output: str, response: str) -> bool:
    """An endpoint's answer carries the fingerprint when it starts with the response text."""
    return output.lstrip().startswith(response.strip())


def check_endpoint(base_url: str, model_name: str, fps: list[Fingerprint], api_key: str = "EMPTY",
                   system_prompt: str | None = None, tokenizer=None, concurrency: int = 4,
                   timeout: float = 60.0, client=None) -> list[CheckResult]:
    """Check through the `openai` client against `base_url` (e.g. http://host:8000/v1)."""
    if client is None:
        from openai import OpenAI

        client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=1)

    def budget(fp: Fingerprint) -> int:
        # Our token count when we have the tokenizer; otherwise the character count bounds it.
        n = len(response_ids(tokenizer, fp.response)) if tokenizer is not None else len(fp.response)
        return max(1, min(n, 256))

    def one(fp: Fingerprint) -> CheckResult:
        reply = client.chat.completions.create(model=model_name, messages=messages_for(fp, system_prompt),
                                               temperature=0, max_tokens=budget(fp))
        text = reply.choices[0].message.content or ""
        return CheckResult(fp, text, text_matches(text, fp.response))

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(one, fps))


def accuracy(results: list[CheckResult]) -> float:
    return sum(r.matched for r in results) / len(results) if results else 0.0
