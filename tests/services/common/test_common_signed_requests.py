"""Service-to-service signed requests: who may call, and that nothing can be replayed or altered."""
import secrets
import time

import pytest
from eth_account import Account

from services.common import signed_requests as sr


@pytest.fixture
def key():
    return secrets.token_bytes(32)


def test_a_signed_request_names_its_caller_once(key):
    verifier = sr.RequestVerifier(lambda a: True)
    headers = sr.sign_headers(key, "POST", "/v1/transcripts", b'{"a":1}')
    assert verifier.verify("POST", "/v1/transcripts", b'{"a":1}', headers) == Account.from_key(key).address
    with pytest.raises(sr.SignedRequestError, match="replayed"):
        verifier.verify("POST", "/v1/transcripts", b'{"a":1}', headers)


@pytest.mark.parametrize("method,path,body", [("GET", "/v1/transcripts", b'{"a":1}'),
                                              ("POST", "/v1/other", b'{"a":1}'),
                                              ("POST", "/v1/transcripts", b'{"a":2}')])
def test_changing_method_path_or_body_breaks_the_signature(key, method, path, body):
    headers = sr.sign_headers(key, "POST", "/v1/transcripts", b'{"a":1}')
    with pytest.raises(sr.SignedRequestError, match="not by the address"):
        sr.RequestVerifier(lambda a: True).verify(method, path, body, headers)


def test_policy_refusal_is_403_and_missing_headers_401(key):
    headers = sr.sign_headers(key, "GET", "/x")
    with pytest.raises(sr.SignedRequestError) as refused:
        sr.RequestVerifier(lambda a: False).verify("GET", "/x", b"", headers)
    assert refused.value.status == 403
    with pytest.raises(sr.SignedRequestError) as missing:
        sr.RequestVerifier(lambda a: True).verify("GET", "/x", b"", {})
    assert missing.value.status == 401


def test_stale_timestamps_are_refused(key, monkeypatch):
    headers = sr.sign_headers(key, "GET", "/x")
    later = time.time() + 1000
    monkeypatch.setattr(sr.time, "time", lambda: later)
    with pytest.raises(sr.SignedRequestError, match="from now"):
        sr.RequestVerifier(lambda a: True, max_skew_s=120).verify("GET", "/x", b"", headers)
