"""Talking to a host like any user does: the `openai` client against its /v1 endpoint."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from services.common.answer import extension_of
from services.prover.errors import ProverError


class HostError(ProverError):
    """The host did not answer (down, timeout, or an error status)."""


@dataclass(frozen=True)
class Target:
    """A license to probe and the base URL of its host's gateway (the client adds /v1)."""

    license_id: int
    url: str
    model: str = "oml"

    def __post_init__(self):
        if self.license_id < 0:
            raise ValueError("license id must be >= 0")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"target URL {self.url!r} must start with http:// or https://")

    @classmethod
    def parse(cls, text: str, model: str = "oml") -> Target:
        """'N=URL' as the CLI takes it."""
        license_id, sep, url = text.partition("=")
        if not sep or not license_id.strip().isdigit():
            raise ValueError(f"target {text!r} is not LICENSE_ID=URL")
        return cls(int(license_id), url.strip().rstrip("/"), model)


@dataclass(frozen=True)
class Answer:
    text: str
    extension: dict | None  # the answer's `oml` field (services/common/answer.py)
    sent_at: int
    received_at: int

    @property
    def permission(self) -> dict | None:
        return (self.extension or {}).get("permission")

    @property
    def receipt(self) -> dict | None:
        return (self.extension or {}).get("receipt")

    @property
    def permission_id(self) -> str | None:
        return (self.extension or {}).get("permission_id")


class HostClient:
    """One `openai` client per host URL, reused across queries."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()

    def _client(self, url: str):
        from openai import OpenAI

        with self._lock:
            if url not in self._clients:
                # The prover retries nothing itself: a lost answer is logged, not re-asked.
                self._clients[url] = OpenAI(base_url=url + "/v1", api_key="EMPTY", timeout=self.timeout_s,
                                            max_retries=0)
            return self._clients[url]

    def ask(self, target: Target, messages: list[dict], max_tokens: int) -> Answer:
        import openai

        sent_at = int(time.time())
        try:
            completion = self._client(target.url).chat.completions.create(
                model=target.model, messages=messages, temperature=0, max_tokens=max_tokens)
        except openai.APIStatusError as exc:
            # Status only: an error body may echo the request, and a probe's request is a secret key.
            raise HostError(f"{target.url}: HTTP {exc.status_code}") from None
        except openai.OpenAIError as exc:
            raise HostError(f"{target.url}: {type(exc).__name__}") from None
        text = (completion.choices[0].message.content or "") if completion.choices else ""
        return Answer(text, extension_of(completion), sent_at, int(time.time()))

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
