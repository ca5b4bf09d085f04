"""Fixtures of the prover tests: one tiny-model host per session, a stand-in verifier per test,
and a factory of provers on a per-test SQLite database."""
from __future__ import annotations

import secrets

import pytest
from eth_account import Account
from prover_helpers import (
    LICENSE_ID,
    PASSPHRASE,
    StandInVerifier,
    TinyHost,
    serving,
    talkative_tiny_model,
)

from services.prover.config import ProverSettings
from services.prover.hosts import Target
from services.prover.prover import Prover


@pytest.fixture(scope="session")
def tiny_host():
    model, tokenizer = talkative_tiny_model()
    host = TinyHost(model, tokenizer, LICENSE_ID)
    with serving(host.app) as url:
        host.url = url
        yield host


@pytest.fixture
def host(tiny_host):
    """The session's host, with its σ policy and request log reset."""
    tiny_host.permission = lambda _messages: None
    tiny_host.requests.clear()
    return tiny_host


@pytest.fixture(scope="session")
def fingerprints(tiny_host):
    return tiny_host.fingerprints(6)


@pytest.fixture
def target(host) -> Target:
    return Target(LICENSE_ID, host.url)


@pytest.fixture
def prover_key() -> str:
    return "0x" + secrets.token_hex(32)


@pytest.fixture
def verifier(prover_key):
    stand_in = StandInVerifier({Account.from_key(prover_key).address})
    with serving(stand_in.app) as url:
        stand_in.url = url
        yield stand_in


@pytest.fixture
def settings_for(tmp_path, prover_key):
    """ProverSettings on this test's database; keyword arguments override."""
    def make(**overrides) -> ProverSettings:
        values = {"key": prover_key, "passphrase": PASSPHRASE,
                  "database_url": f"sqlite:///{tmp_path}/prover.db", "seed": 1,
                  "retry_backoff_s": 0.01, "request_timeout_s": 10, **overrides}
        return ProverSettings(**values)
    return make


@pytest.fixture
def make_prover(settings_for):
    """Provers that are closed after the test."""
    opened: list[Prover] = []

    def make(**overrides) -> Prover:
        prover = Prover(settings_for(**overrides))
        opened.append(prover)
        return prover
    yield make
    for prover in opened:
        prover.close()
