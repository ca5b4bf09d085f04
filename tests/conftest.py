"""Shared fixtures: one real anvil per test session, the contracts deployed on it once, and a
snapshot/revert around each test that asks for `deployment`, so every test sees a fresh chain."""
from __future__ import annotations

import pytest

from oml_core.chain.anvil import AnvilNode
from oml_core.chain.client import connect
from oml_core.chain.compiler import compile_contracts
from oml_core.chain.deployment import Deployment, deploy


@pytest.fixture(scope="session")
def compiled():
    """{name: (abi, bytecode)} of contracts/src (cached in build/contracts.json)."""
    return compile_contracts()


@pytest.fixture(scope="session")
def anvil():
    with AnvilNode() as node:
        yield node


@pytest.fixture(scope="session")
def w3(anvil):
    return connect(anvil.url)


@pytest.fixture(scope="session")
def session_deployment(anvil, w3, compiled) -> Deployment:
    """The five contracts, deployed and wired once per session by anvil's account 0."""
    return deploy(w3, anvil.private_keys[0], compiled=compiled, rpc_url=anvil.url)


@pytest.fixture
def chain_snapshot(w3):
    """Reverts the chain (state, blocks, time) to how it was before the test."""
    snapshot_id = w3.provider.make_request("evm_snapshot", [])["result"]
    yield snapshot_id
    reverted = w3.provider.make_request("evm_revert", [snapshot_id])["result"]
    assert reverted, f"evm_revert({snapshot_id}) failed: a later snapshot was reverted out of order"


@pytest.fixture
def deployment(session_deployment, chain_snapshot) -> Deployment:
    """The session's deployment on a chain that is reverted after the test."""
    return session_deployment
