"""Host gateway fixtures: one tiny model on disk and in memory, one LocalChain with the real
permission service process, for the whole session; a fresh license per test."""
from __future__ import annotations

import pytest
from host_helpers import fingerprints, signed_in

from oml_core.model.loading import tiny_model
from services.host.generation import Generator
from services.stack import ETH, LocalChain, wait_for_escrow


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    model, tokenizer = tiny_model(seed=0)
    assert tokenizer.chat_template, "the tiny model's tokenizer must carry the chat template"
    path = tmp_path_factory.mktemp("tiny") / "model"
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def generator(model_dir) -> Generator:
    return Generator.load(model_dir, device="cpu")


@pytest.fixture(scope="session")
def chain(tmp_path_factory):
    with LocalChain.start(tmp_path_factory.mktemp("chain")) as local:
        # headroom so penalized attesters stay active for the next claim
        for key in local.accounts.verifiers:
            local.oml.sender(key).send(local.oml.verifiers.functions.addStake(), value=10 * ETH)
        yield local


@pytest.fixture(scope="session")
def permission(chain):
    service = chain.permission_service()
    service.start()
    return service


@pytest.fixture
def host_key(chain) -> str:
    return chain.accounts.hosts[0]


@pytest.fixture
def licensed(chain, permission, host_key):
    """A fresh license of hosts[0] with four fingerprints: (license_id, fingerprints)."""
    fps = fingerprints(4)
    license_id = chain.add_license(host_key, fps, b"\x11" * 32)
    client = signed_in(permission.url, host_key, "host", license_id)  # waits until the service mirrored it
    wait_for_escrow(client, license_id, ETH)  # ... and its escrow (σ are refused beyond it)
    return license_id, fps


@pytest.fixture
def verifier(chain, permission):
    return signed_in(permission.url, chain.accounts.verifiers[0], "verifier")
