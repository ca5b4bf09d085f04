"""OpenAI wire formats: a ChatCompletion, ChatCompletionChunks and their SSE framing. The `oml`
field (services/common/answer.py) rides in the completion, and in the first chunk (σ) and the last
chunk (σ and the answer's receipt) of a stream."""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

from services.common.answer import OML_FIELD


@dataclass(frozen=True)
class Answer:
    """Identity of one answer: shared by the completion or by every chunk of its stream."""

    model: str
    id: str = field(default_factory=lambda: "chatcmpl-" + secrets.token_hex(12))
    created: int = field(default_factory=lambda: int(time.time()))

    def completion(self, text: str, finish_reason: str, prompt_tokens: int, completion_tokens: int,
                   oml: dict) -> dict:
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish_reason, "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
            OML_FIELD: oml,
        }

    def chunk(self, delta: dict, finish_reason: str | None = None, oml: dict | None = None) -> dict:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}
        if oml is not None:
            body[OML_FIELD] = oml
        return body


def sse(data: dict) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
