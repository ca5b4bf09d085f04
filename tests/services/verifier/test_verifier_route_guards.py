"""What the verifier's routes hold against a hostile caller: no body is read before the caller is
authenticated, none is read past the limit, a flood of nonces does not make an earlier request
replayable, the public claims list keeps a gathering claim's leaf to itself, and bad input is a
4xx with a reason."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi.testclient import TestClient
from verifier_helpers import attestation_body, signed, transcript_body

from services.common import signed_requests as sr
from services.stack import address_of
from services.verifier.app import create_app

LIMIT = 4096


@pytest.fixture
def verifier(stack, request):
    return stack.verifier(0, request.node.name, max_body_bytes=LIMIT)


@pytest.fixture
def client(verifier):
    with TestClient(create_app(verifier=verifier, run_worker=False)) as client:
        yield client


class CountedBody:
    """A request body sent in chunks through httpx's ASGI transport, which hands the app one chunk
    per `receive()`: `pulled` is how many chunks the app asked for."""

    def __init__(self, body: bytes, chunk: int = 1024):
        self.chunks = [body[i:i + chunk] for i in range(0, len(body), chunk)]
        self.pulled = 0

    async def __aiter__(self):
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk


def post_streamed(app, path: str, body: CountedBody | bytes, headers: dict[str, str]) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://verifier") as http:
            return await http.post(path, content=body, headers=headers)
    return asyncio.run(send())


def test_a_caller_is_refused_before_a_byte_of_its_body_is_read(stack, verifier):
    app = create_app(verifier=verifier, run_worker=False)
    body = transcript_body(stack.transcript(stack.fresh_fingerprint()))

    unsigned = CountedBody(body)
    refused = post_streamed(app, "/v1/transcripts", unsigned, {"Content-Type": "application/json"})
    assert refused.status_code == 401 and unsigned.pulled == 0

    host = stack.clean.host_key  # a valid signature, but not an allowlisted prover
    stranger = CountedBody(body)
    forbidden = post_streamed(app, "/v1/transcripts", stranger, signed(host, "POST", "/v1/transcripts", body))
    assert forbidden.status_code == 403 and stranger.pulled == 0

    prover = CountedBody(body)
    headers = signed(stack.prover_key, "POST", "/v1/transcripts", body)
    accepted = post_streamed(app, "/v1/transcripts", prover, headers)
    assert accepted.status_code == 202 and prover.pulled == len(prover.chunks)


def test_a_body_over_the_limit_is_refused_without_being_read_whole(stack, verifier, client):
    body = b'{"padding": "' + b"x" * (40 * LIMIT) + b'"}'
    headers = signed(stack.prover_key, "POST", "/v1/transcripts", body)

    declared = client.post("/v1/transcripts", content=body, headers=headers)  # Content-Length says it
    assert declared.status_code == 413 and declared.json()["error"] == "body_too_large"
    assert str(LIMIT) in declared.json()["detail"]

    streamed = CountedBody(body)  # chunked, no Content-Length: counted as it arrives
    app = create_app(verifier=verifier, run_worker=False)
    refused = post_streamed(app, "/v1/transcripts", streamed, headers)
    assert refused.status_code == 413 and refused.json()["error"] == "body_too_large"
    assert streamed.pulled == LIMIT // 1024 + 1 < len(streamed.chunks)


def test_a_content_length_that_is_not_a_byte_count_is_a_400(stack, verifier):
    body = transcript_body(stack.transcript(stack.fresh_fingerprint()))
    headers = {**signed(stack.prover_key, "POST", "/v1/transcripts", body), "Content-Length": "-1"}
    response = post_streamed(create_app(verifier=verifier, run_worker=False), "/v1/transcripts", body, headers)
    assert response.status_code == 400 and response.json()["error"] == "invalid_content_length"


def test_a_body_other_than_the_signed_one_is_refused(stack, client):
    body = transcript_body(stack.transcript(stack.fresh_fingerprint()))
    headers = signed(stack.prover_key, "POST", "/v1/transcripts", body)
    other = body.replace(b'"answer":"', b'"answer":"x')
    swapped = client.post("/v1/transcripts", content=other, headers=headers)
    assert swapped.status_code == 401 and "not the one signed" in swapped.json()["detail"]


def test_a_flood_of_nonces_does_not_make_an_early_request_replayable(stack, client, monkeypatch):
    prover = address_of(stack.prover_key)
    client.app.state.prover_gate = sr.RequestVerifier(lambda address: address == prover, max_nonces=64)
    path = "/v1/transcripts/0x" + "ab" * 32
    first = signed(stack.prover_key, "GET", path)
    assert client.get(path, headers=first).status_code == 404  # authenticated; no such transcript

    flood = [client.get(path, headers=signed(stack.prover_key, "GET", path)) for _ in range(200)]
    assert {r.status_code for r in flood} == {404, 429}
    assert sum(r.status_code == 404 for r in flood) == 63  # the window is full: refused, nothing forgotten
    assert flood[-1].json()["error"] == "too_many_requests"

    replayed = client.get(path, headers=first)
    assert replayed.status_code == 401 and "replayed" in replayed.json()["detail"]

    later = sr.time.time() + client.app.state.prover_gate.max_skew_s + 2  # the flood's window is over
    monkeypatch.setattr(sr.time, "time", lambda: later)
    assert client.get(path, headers=signed(stack.prover_key, "GET", path)).status_code == 404
    stale = client.get(path, headers=first)
    assert stale.status_code == 401 and "from now" in stale.json()["detail"]


def test_a_request_signed_before_a_restart_is_refused_after_it(stack, verifier, monkeypatch):
    path = "/v1/transcripts/0x" + "cd" * 32
    headers = signed(stack.prover_key, "GET", path)
    with TestClient(create_app(verifier=verifier, run_worker=False)) as before:
        assert before.get(path, headers=headers).status_code == 404
    later = sr.time.time() + 5  # well inside the timestamp window, but the nonces seen are gone
    monkeypatch.setattr(sr.time, "time", lambda: later)
    with TestClient(create_app(verifier=verifier, run_worker=False)) as after:
        replayed = after.get(path, headers=headers)
    assert replayed.status_code == 401 and "before this service started" in replayed.json()["detail"]


def test_the_claims_list_shows_a_leaf_only_once_the_claim_is_opened(stack, verifier, client, request):
    fp = stack.fresh_fingerprint(stack.slashable)
    status = verifier.process(stack.transcript(fp))  # no peers: no quorum, the claim keeps gathering
    assert status["status"] == "gathering"
    listed = client.get("/v1/claims")
    claim = next(c for c in listed.json()["claims"] if c["license_id"] == stack.slashable.license_id
                 and c["status"] == "gathering")
    assert claim["leaf"] is None
    for secret in (fp.leaf.hex(), fp.query_hash.hex(), json.dumps(fp.key)[1:-1], json.dumps(fp.response)[1:-1]):
        assert secret not in listed.text

    verifier.peers = [stack.peer_client(stack.verifier(i, f"{request.node.name}-peer{i}")) for i in (1, 2)]
    verifier.run_once()  # the quorum answers: opened on chain, where the leaf is public
    opened = next(c for c in client.get("/v1/claims").json()["claims"] if c["claim_id"] is not None
                  and c["leaf"] == "0x" + fp.leaf.hex())
    assert opened["status"] == "opened"


BAD_TRANSCRIPTS = [
    b"", b"not json", b"[]", b"null", b'{"license_id": -1}', b"\xff\xfe\x00",
    b'{"transcript": 1}', json.dumps({"license_id": 2**300}).encode(),
]


@pytest.mark.parametrize("body", BAD_TRANSCRIPTS)
def test_bad_transcripts_are_a_4xx_with_a_reason(stack, client, body):
    headers = signed(stack.prover_key, "POST", "/v1/transcripts", body)
    response = client.post("/v1/transcripts", content=body, headers=headers)
    assert response.status_code == 422 and response.json()["detail"]


def test_bad_attestation_requests_are_a_4xx_with_a_reason(stack, client):
    key = stack.chain.accounts.verifiers[1]
    transcript = stack.transcript(stack.fresh_fingerprint())
    odd = [
        attestation_body(transcript, "0x" + "12" * 20)[:-5],  # cut short
        attestation_body(transcript.model_copy(update={"messages": [{"role": 1, "content": None}]}),
                         address_of(key)),
        attestation_body(transcript.model_copy(update={"license_id": 2**256 - 1}), address_of(key)),
        json.dumps({"transcript": {}, "claimant": address_of(key)}).encode(),
    ]
    for body in odd:
        headers = signed(key, "POST", "/v1/attestations", body)
        response = client.post("/v1/attestations", content=body, headers=headers)
        assert 400 <= response.status_code < 500 and response.json()["detail"], (body[:80], response.text)


@pytest.mark.parametrize("headers", [
    {sr.BODY_HASH_HEADER: "0x12"}, {sr.BODY_HASH_HEADER: "zz" * 32}, {sr.TIMESTAMP_HEADER: "soon"},
    {sr.NONCE_HEADER: "short"}, {sr.SIGNATURE_HEADER: "0x" + "00" * 65}, {sr.ADDRESS_HEADER: "0x1234"},
])
def test_malformed_signed_headers_are_a_401_with_a_reason(stack, client, headers):
    path = "/v1/transcripts/0x" + "ef" * 32
    response = client.get(path, headers={**signed(stack.prover_key, "GET", path), **headers})
    assert response.status_code == 401 and response.json()["detail"]


def test_a_transcript_id_that_is_not_a_hash_is_a_422(stack, client):
    path = "/v1/transcripts/0x1234"
    response = client.get(path, headers=signed(stack.prover_key, "GET", path))
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
