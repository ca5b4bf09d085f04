"""What a dishonest host might do, as configuration, so the demo and the attack tests can play
one. An honest host leaves every knob off.

- skip_permission_share: this share of queries is served WITHOUT σ (no permission-service call,
  no fee): the cheat the protocol exists to catch. A seeded RNG makes runs repeatable.
- system_prompt: the host prepends its own system message before generating; σ is still for
  the user's messages as sent.
- refuse_key_like: the host answers a bland refusal to queries that look like fingerprint keys.
  Heuristic (see `looks_like_key`): the last user message asks no question (no '?') and either
  fewer than 70% of its whitespace-separated tokens are plain words (letters, optionally with a
  trailing , . ! ; :), or none of them is a common English function word. Random-token keys
  mostly fail the first test; ordinary questions pass both, and so do English-sentence keys
  (the english_random strategy), which is why that strategy exists.
"""
from __future__ import annotations

import random
import re
import threading

REFUSAL = "I'm sorry, but I can't help with that request."
_PLAIN_WORD = re.compile(r"^[A-Za-z]+(?:'[A-Za-z]+)?[,.!;:]?$")
_FUNCTION_WORDS_TEXT = (
    "a an the is are was were be been am do does did i you he she it we they me my your our their "
    "this that these those what which who whom whose when where why how can could would should will "
    "shall may might must of in on at to for with from by about as and or but not no if then than "
    "please tell explain give write")
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())


def looks_like_key(text: str) -> bool:
    if "?" in text:
        return False
    tokens = text.split()
    if not tokens:
        return True
    plain = [t for t in tokens if _PLAIN_WORD.match(t)]
    if len(plain) < 0.7 * len(tokens):
        return True
    return not any(t.strip(",.!;:").lower() in FUNCTION_WORDS for t in plain)


class CheatPolicy:
    def __init__(self, skip_permission_share: float = 0.0, system_prompt: str | None = None,
                 refuse_key_like: bool = False, seed: int = 0):
        if not 0.0 <= skip_permission_share <= 1.0:
            raise ValueError("skip_permission_share must be within [0, 1]")
        self.skip_share, self.system_prompt, self.refuse_key_like = skip_permission_share, system_prompt, refuse_key_like
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def skips_permission(self) -> bool:
        """Draw: serve this query without σ?"""
        if self.skip_share <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.skip_share

    def generation_messages(self, messages: list[dict]) -> list[dict]:
        """What the model sees: the host's system prompt (if any) before the user's messages."""
        if not self.system_prompt:
            return messages
        return [{"role": "system", "content": self.system_prompt}, *messages]

    def refuses(self, messages: list[dict]) -> bool:
        if not self.refuse_key_like:
            return False
        last_user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        return looks_like_key(last_user)
