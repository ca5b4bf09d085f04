"""Property-based API test: schemathesis generates requests from the OpenAPI schema, with and
without a host token; no input may produce a 5xx, and responses must match the schema."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from permission_helpers import Clock, Keys, make_settings, seed_license
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from services.permission.app import create_app
from services.permission.client import PermissionClient
from services.permission.service import build_service


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    keys = Keys()
    url = f"sqlite:///{tmp_path_factory.mktemp('st') / 'permission.db'}"
    verifiers = {Keys.address(keys.verifier)}
    service = build_service(make_settings(url), private_key=keys.signer, clock=Clock(),
                            is_active_verifier=lambda a: a in verifiers)
    seed_license(service, 0, keys.host, quota=10**6)
    seed_license(service, 1, keys.host, quota=10**6)
    app = create_app(service=service)
    service.start()
    from fastapi.testclient import TestClient

    with TestClient(app) as http:
        token = PermissionClient(http).sign_in(keys.host, "host", 1)["token"]
    service.start()  # TestClient's lifespan stopped it
    yield app, token
    service.stop()


@pytest.fixture(scope="module")
def api_schema(served):
    return schemathesis.openapi.from_asgi("/openapi.json", served[0])


schema = schemathesis.pytest.from_fixture("api_schema")
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_with_a_host_token(case, served):
    case.call_and_validate(headers={"Authorization": f"Bearer {served[1]}"}, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_without_a_token(case):
    case.call_and_validate(checks=CHECKS)
