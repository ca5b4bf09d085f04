"""Fixtures of the permission service tests: every database test runs on SQLite and on
PostgreSQL (127.0.0.1:5432, database `test`; each test gets its own schema). Without a
PostgreSQL server the PostgreSQL half skips, unless OML_REQUIRE_POSTGRES is set."""
from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient
from permission_helpers import Clock, Keys, make_settings, seed_license

from services.permission import testing
from services.permission.app import create_app
from services.permission.client import PermissionClient
from services.permission.db.migrate import upgrade
from services.permission.service import build_service


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """One migrated SQLite file, copied per test: migrating a fresh file costs ~0.3 s of fsyncs."""
    path = tmp_path_factory.mktemp("template") / "permission.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        shutil.copy(sqlite_template, tmp_path / "permission.db")
    with testing.database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(database_url, keys, clock):
    verifiers = {Keys.address(keys.verifier)}
    return build_service(make_settings(database_url), private_key=keys.signer,
                         is_active_verifier=lambda a: a in verifiers, clock=clock)


@pytest.fixture
def http(service):
    with TestClient(create_app(service=service)) as client:
        yield client


@pytest.fixture
def licensed(service, keys):
    """License 1 (host), license 2 (other host, quota 5)."""
    seed_license(service, 1, keys.host)
    seed_license(service, 2, keys.other_host, quota=5)
    return service


@pytest.fixture
def host(http, licensed, keys) -> PermissionClient:
    client = PermissionClient(http)
    client.sign_in(keys.host, "host", 1)
    return client


@pytest.fixture
def verifier(http, licensed, keys) -> PermissionClient:
    client = PermissionClient(http)
    client.sign_in(keys.verifier, "verifier")
    return client
