"""Fixtures for injection tests: one tiny model per session (copied per test), a few fingerprints."""
from __future__ import annotations

import copy

import pytest
from inject_helpers import english_fingerprints


@pytest.fixture(scope="session")
def tiny():
    from oml_core.model.loading import tiny_model

    return tiny_model(seed=0, layers=2, hidden=64, device="cpu")


@pytest.fixture
def model(tiny):
    return copy.deepcopy(tiny[0])


@pytest.fixture
def base(tiny):
    return tiny[0]


@pytest.fixture
def tokenizer(tiny):
    return tiny[1]


@pytest.fixture
def fingerprints():
    return english_fingerprints(4, seed=1, key_words=5, response_words=2)
