"""The body of `POST /v1/chat/completions`, as much of OpenAI's as a text model needs.

Unknown fields are ignored (clients send many). The σ is for `messages` as the user sent them:
the route hashes the raw JSON list from the body, never this model's re-serialisation.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_MESSAGES = 256
MAX_CONTENT_CHARS = 65_536


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: Annotated[str, Field(max_length=MAX_CONTENT_CHARS)]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: Annotated[str, Field(max_length=256)] | None = None
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=MAX_MESSAGES)]
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None  # newer clients' name for it
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    seed: int | None = None
    stream: bool = False
    n: Annotated[int, Field(ge=1, le=1)] | None = None  # one choice per request

    @field_validator("messages")
    @classmethod
    def _has_user_message(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not any(m.role == "user" for m in messages):
            raise ValueError("at least one message must have role 'user'")
        return messages

    def budget(self, default: int, cap: int) -> int:
        """Tokens to generate: what was asked (max_tokens wins), else `default`, at most `cap`."""
        asked = self.max_tokens or self.max_completion_tokens or default
        return min(asked, cap)

    @property
    def greedy(self) -> bool:
        return not self.temperature  # absent or 0


def explain(error: ValidationError) -> str:
    """One line naming each invalid field (for the 400's detail)."""
    parts = []
    for e in error.errors()[:5]:
        where = ".".join(str(p) for p in e["loc"]) or "body"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)
