"""Fixtures of the attack tests (one file per attack, each played as the attacker would).

For the whole folder: one LocalChain (anvil, the five contracts as deployed by default, four
staked and activated verifiers) with the real permission service process, the verifier tests'
`Stack` over it (in-process verifiers, signed transcripts, σ, fresh licenses), and a tiny model
fingerprinted with one key that real host gateways serve. Every test works on licenses of its
own, and whatever it does to the shared verifier set (sybils, bribed verifiers) it undoes.
"""
from __future__ import annotations

import sys
from pathlib import Path

# The helpers of the verifier and host tests (Stack, gateway(), ...) live beside their conftests.
_SERVICE_TESTS = Path(__file__).resolve().parents[1] / "services"
for _folder in ("verifier", "host"):
    if str(_SERVICE_TESTS / _folder) not in sys.path:
        sys.path.insert(0, str(_SERVICE_TESTS / _folder))

import pytest
from adversary_helpers import fingerprinted_copy, register_license
from host_helpers import fingerprints
from verifier_helpers import Stack

from services.stack import LocalChain


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("adversarial")
    with LocalChain.start(workdir) as chain, chain.permission_service() as permission:
        clean, slashable = (register_license(chain, permission.url, host, fingerprints(2, tag))
                            for host, tag in zip(chain.accounts.hosts, ("clean", "slashable")))
        stack = Stack(chain, clean, slashable, permission.url, workdir)
        yield stack
        stack.close()


@pytest.fixture(scope="session")
def tiny_copy(tmp_path_factory):
    """(model directory, Generator) of the tiny model that answers adversary_helpers.KEY."""
    directory = tmp_path_factory.mktemp("copy") / "model"
    return directory, fingerprinted_copy(directory)


@pytest.fixture
def lead(stack, request):
    """An honest in-process verifier (0) leading claims, with verifiers 1 and 2 as its peers:
    three of the four equal stakes, a quorum."""
    name = request.node.name
    peers = [stack.verifier(i, f"{name}-peer{i}") for i in (1, 2)]
    return stack.verifier(0, f"{name}-lead", peers=[stack.peer_client(p) for p in peers])
