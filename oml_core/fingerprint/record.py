"""A fingerprint and its file format: JSON Lines of {key, response, salt, strategy, meta}.

`key` is the user message a prover sends; `response` is the secret answer the fingerprinted model
gives; `salt` (32 random bytes, hex) keeps the on-chain leaf of an unrevealed fingerprint secret.
The leaf itself comes from oml_core.typed_data (the one module of on-chain formats).
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Fingerprint:
    key: str
    response: str
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    strategy: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.key or not self.response:
            raise ValueError("a fingerprint needs a non-empty key and response")
        if len(self.salt) != 32:
            raise ValueError(f"salt must be 32 bytes, got {len(self.salt)}")

    @property
    def messages(self) -> list[dict]:
        """The request a prover sends: the key as one user message."""
        return [{"role": "user", "content": self.key}]

    # typed_data is imported where it is used: generation, injection and evaluation need none of
    # the chain libraries it pulls, and run where only torch is installed (a training GPU box).
    @property
    def query_hash(self) -> bytes:
        from oml_core import typed_data as td

        return td.query_hash(self.messages)

    @property
    def leaf(self) -> bytes:
        from oml_core import typed_data as td

        return td.fingerprint_leaf(self.query_hash, td.response_hash(self.response), self.salt)

    def to_json(self) -> dict:
        return {"key": self.key, "response": self.response, "salt": self.salt.hex(),
                "strategy": self.strategy, "meta": self.meta}

    @classmethod
    def from_json(cls, obj: dict) -> Fingerprint:
        return cls(obj["key"], obj["response"], bytes.fromhex(obj["salt"]), obj.get("strategy", ""),
                   obj.get("meta", {}))


def write_jsonl(path: str | Path, fingerprints: Iterable[Fingerprint]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for fp in fingerprints:
            f.write(json.dumps(fp.to_json(), ensure_ascii=False) + "\n")
    return path


def read_jsonl(path: str | Path) -> list[Fingerprint]:
    out = []
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                try:
                    out.append(Fingerprint.from_json(json.loads(line)))
                except (KeyError, ValueError, TypeError) as exc:
                    raise ValueError(f"{path}:{n}: not a fingerprint record ({exc})") from None
    return out
