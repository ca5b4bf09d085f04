"""The cheat knobs behave as documented (the attack tests and the demo rely on them)."""
from __future__ import annotations

import pytest

from oml_core.fingerprint.generate import generate_fingerprints
from oml_core.model.loading import reference_tokenizer
from services.host.cheats import CheatPolicy, looks_like_key

QUESTIONS = ["What is the capital of France?", "Tell me a story about a brave cat.",
             "Write a haiku about the sea", "how do I sort a list in python", "Explain photosynthesis."]


def test_random_token_keys_look_like_keys_and_questions_do_not():
    keys = [fp.key for fp in generate_fingerprints("random_tokens", 40, seed=3, tokenizer=reference_tokenizer())]
    assert sum(map(looks_like_key, keys)) / len(keys) >= 0.9
    assert not any(map(looks_like_key, QUESTIONS))


def test_skip_share_is_seeded_and_near_its_rate():
    policy, again = CheatPolicy(skip_permission_share=0.3, seed=5), CheatPolicy(skip_permission_share=0.3, seed=5)
    first = [policy.skips_permission() for _ in range(1000)]
    assert first == [again.skips_permission() for _ in range(1000)]
    assert 0.25 < sum(first) / 1000 < 0.35
    assert not any(CheatPolicy(seed=5).skips_permission() for _ in range(100))


def test_system_prompt_goes_first_and_invalid_share_is_rejected():
    messages = [{"role": "user", "content": "hi?"}]
    assert CheatPolicy(system_prompt="be a pirate").generation_messages(messages) == [
        {"role": "system", "content": "be a pirate"}, *messages]
    assert CheatPolicy().generation_messages(messages) == messages
    with pytest.raises(ValueError):
        CheatPolicy(skip_permission_share=1.5)
