"""Sign-in: challenges work once, expire, must be signed by the right key; tokens are scoped."""
from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient
from permission_helpers import Keys, make_settings, seed_license

from oml_core import typed_data as td
from services.permission.app import create_app
from services.permission.auth import personal_sign_digest
from services.permission.client import PermissionClient, ServiceError
from services.permission.service import build_service


def _token(client: PermissionClient, nonce: str, signature: bytes) -> dict:
    return client._call("POST", "/v1/auth/token", json={"nonce": nonce, "signature": "0x" + signature.hex()})


def _refused(fn, *args) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        fn(*args)
    return info.value


def test_challenge_is_an_eip4361_style_message(http, licensed, keys):
    body = PermissionClient(http).challenge("host", Keys.address(keys.host), 1)
    message = body["message"]
    assert message.splitlines()[1] == Keys.address(keys.host)
    assert "wants you to sign in with your Ethereum account" in message
    assert f"Nonce: {body['nonce']}" in message and "Chain ID: 31337" in message
    assert "Expiration Time: " in message and "- oml:license:1" in message


def test_signed_challenge_cannot_be_replayed(http, licensed, keys):
    client = PermissionClient(http)
    challenge = client.challenge("host", Keys.address(keys.host), 1)
    signature = td.sign_digest(personal_sign_digest(challenge["message"]), keys.host)
    assert _token(client, challenge["nonce"], signature)["license_id"] == 1
    error = _refused(_token, client, challenge["nonce"], signature)
    assert (error.status, error.code) == (401, "nonce_used")


def test_expired_challenge_is_refused(http, licensed, keys, clock):
    client = PermissionClient(http)
    challenge = client.challenge("host", Keys.address(keys.host), 1)
    clock.now += 301
    signature = td.sign_digest(personal_sign_digest(challenge["message"]), keys.host)
    assert _refused(_token, client, challenge["nonce"], signature).code == "challenge_expired"


def test_wrong_signer_burns_the_nonce(http, licensed, keys):
    client = PermissionClient(http)
    challenge = client.challenge("host", Keys.address(keys.host), 1)
    forged = td.sign_digest(personal_sign_digest(challenge["message"]), keys.outsider)
    assert _refused(_token, client, challenge["nonce"], forged).code == "bad_signature"
    good = td.sign_digest(personal_sign_digest(challenge["message"]), keys.host)
    assert _refused(_token, client, challenge["nonce"], good).code == "nonce_used"


def test_garbage_signature_and_unknown_nonce_are_401(http, licensed, keys):
    client = PermissionClient(http)
    challenge = client.challenge("host", Keys.address(keys.host), 1)
    assert _refused(_token, client, challenge["nonce"], b"\x01" * 65).status == 401
    assert _refused(_token, client, "nope", b"\x01" * 65).code == "unknown_nonce"


def test_only_the_license_host_can_sign_in_for_it(http, licensed, keys):
    error = _refused(PermissionClient(http).sign_in, keys.other_host, "host", 1)
    assert (error.status, error.code) == (403, "not_license_host")


def test_only_active_verifiers_sign_in_as_verifiers(http, licensed, keys):
    error = _refused(PermissionClient(http).sign_in, keys.outsider, "verifier")
    assert (error.status, error.code) == (403, "not_active_verifier")


def test_routes_need_a_valid_unexpired_token(http, licensed, keys, clock):
    anonymous = PermissionClient(http)
    q = secrets.token_bytes(32)
    for call in (lambda: anonymous.permission(1, q), lambda: anonymous.lookup(1, q),
                 lambda: anonymous.usage(1), lambda: anonymous.sign_voucher(1),
                 lambda: anonymous.proof(1, 1), lambda: anonymous.license(1)):
        assert _refused(call).code == "missing_token"
    assert _refused(PermissionClient(http, token="omlp_forged").permission, 1, q).code == "invalid_token"
    host = PermissionClient(http)
    host.sign_in(keys.host, "host", 1)
    clock.now += 3601
    assert _refused(host.permission, 1, q).code == "invalid_token"


def test_host_token_is_scoped_to_its_license(http, licensed, keys):
    host = PermissionClient(http)
    host.sign_in(keys.host, "host", 1)
    q = secrets.token_bytes(32)
    for call in (lambda: host.permission(2, q), lambda: host.lookup(2, q), lambda: host.usage(2),
                 lambda: host.sign_voucher(2), lambda: host.proof(2, 1), lambda: host.license(2)):
        error = _refused(call)
        assert (error.status, error.code) == (403, "wrong_license")


def test_verifiers_read_any_license_but_cannot_spend_quota(verifier):
    assert verifier.license(2)["quota"] == 5
    error = _refused(verifier.permission, 1, secrets.token_bytes(32))
    assert (error.status, error.code) == (403, "hosts_only")


def test_challenges_are_rate_limited_per_address(http, licensed, keys, service):
    from services.common.rate_limit import RateLimiter

    ticks = [0.0]
    service.challenge_limiter = RateLimiter(per_minute=6, burst=2, clock=lambda: ticks[0])
    client = PermissionClient(http)
    for _ in range(2):
        client.challenge("host", Keys.address(keys.host), 1)
    response = http.post("/v1/auth/challenge", json={"role": "host", "address": Keys.address(keys.host),
                                                     "license_id": 1})
    assert response.status_code == 429 and response.json()["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) == 10  # 6 per minute: one token every 10 s
    ticks[0] = 10.0
    assert client.challenge("host", Keys.address(keys.host), 1)["nonce"]  # refilled


def test_rate_limiter_keys_are_independent_and_bounded():
    from services.common.rate_limit import RateLimiter

    limiter = RateLimiter(per_minute=60, burst=1, max_keys=2, clock=lambda: 0.0)
    assert limiter.allow("a") == 0.0 and limiter.allow("a") > 0 and limiter.allow("b") == 0.0
    limiter.allow("c")  # "a" is the longest idle and is forgotten: it starts with a full bucket again
    assert limiter.allow("a") == 0.0


def test_a_verifier_that_leaves_the_registry_loses_its_tokens(database_url, keys, clock):
    from sqlalchemy import func, select

    from services.permission.auth import VERIFIER_RECHECK_S
    from services.permission.db.models import Token

    active = {Keys.address(keys.verifier)}
    service = build_service(make_settings(database_url), private_key=keys.signer,
                            is_active_verifier=lambda a: a in active, clock=clock)
    seed_license(service, 1, keys.host)
    with TestClient(create_app(service=service)) as http:
        verifier = PermissionClient(http)
        verifier.sign_in(keys.verifier, "verifier")
        assert verifier.license(1)["license_id"] == 1
        active.clear()  # it left, or a penalty took it below the minimum stake
        assert verifier.license(1)["license_id"] == 1  # within the recheck interval: still served
        clock.now += VERIFIER_RECHECK_S
        error = _refused(verifier.license, 1)
        assert (error.status, error.code) == (401, "verifier_inactive")
        with service.db.read() as session:
            assert session.execute(select(func.count()).select_from(Token).where(
                Token.address == Keys.address(keys.verifier))).scalar() == 0
        error = _refused(verifier.sign_in, keys.verifier, "verifier")
        assert (error.status, error.code) == (403, "not_active_verifier")
