"""Distribution fixtures: a LocalChain for the session, a tiny model OMLized per license into the
owner's models directory, and the owner's app behind FastAPI's TestClient."""
from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from oml_core.fingerprint.record import Fingerprint
from oml_core.model.loading import tiny_model
from services.distribution.app import create_app
from services.distribution.publish import commit_license_model, prepare_license_model
from services.stack import ETH, LocalChain


@pytest.fixture(scope="session")
def chain(tmp_path_factory):
    with LocalChain.start(tmp_path_factory.mktemp("chain")) as local:
        yield local


@pytest.fixture(scope="session")
def tiny():
    return tiny_model(seed=1)


@pytest.fixture
def models_dir(tmp_path):
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture
def issue(chain, tiny, models_dir):
    """issue(host_key) -> license id: the host stakes; the owner OMLizes the tiny model for that
    license and commits its root and weights hash on chain, as before any download."""
    def make(host_key: str) -> int:
        license_id = chain.oml.acquire_license(host_key, chain.model_id, "http://unset", 20 * ETH)
        fps = [Fingerprint(f"key {secrets.token_hex(4)}", f"response {i}") for i in range(3)]
        manifest = prepare_license_model(*tiny, fps, models_dir, license_id, model_id="tiny")
        commit_license_model(chain.oml, chain.accounts.admin, license_id, manifest)
        return license_id
    return make


@pytest.fixture
def owner(chain, models_dir):
    with TestClient(create_app(models_dir, chain.oml)) as client:
        yield client
