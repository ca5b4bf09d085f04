"""The HTTP surface in process: who may call what (signed requests), and the JSON errors."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from verifier_helpers import attestation_body, signed, transcript_body

from oml_core.chain.anvil import free_port
from services.stack import address_of
from services.verifier.app import create_app


@pytest.fixture
def app_client(stack, request):
    verifier = stack.verifier(0, request.node.name)
    with TestClient(create_app(verifier=verifier, run_worker=False)) as client:
        client.verifier = verifier
        yield client


def post_transcript(client, key, transcript, headers=None):
    body = transcript_body(transcript)
    headers = headers if headers is not None else signed(key, "POST", "/v1/transcripts", body)
    return client.post("/v1/transcripts", content=body, headers=headers)


def test_an_allowlisted_prover_hands_in_its_transcript_once(stack, app_client):
    transcript = stack.transcript(stack.fresh_fingerprint())
    body = transcript_body(transcript)
    headers = signed(stack.prover_key, "POST", "/v1/transcripts", body)
    accepted = app_client.post("/v1/transcripts", content=body, headers=headers)
    assert accepted.status_code == 202 and accepted.json()["status"] == "received"

    replayed = app_client.post("/v1/transcripts", content=body, headers=headers)
    assert replayed.status_code == 401 and "replayed" in replayed.json()["detail"]

    path = f"/v1/transcripts/{accepted.json()['transcript_id']}"
    assert app_client.get(path).status_code == 401
    assert app_client.get(path, headers=signed(stack.clean.host_key, "GET", path)).status_code == 403
    app_client.verifier.run_once()
    status = app_client.get(path, headers=signed(stack.prover_key, "GET", path))
    assert status.status_code == 200 and status.json()["verdict"] == "unpermitted"


def test_transcripts_from_strangers_or_in_another_provers_name_are_refused(stack, app_client):
    transcript = stack.transcript(stack.fresh_fingerprint())
    assert post_transcript(app_client, None, transcript, headers={}).status_code == 401

    host = stack.clean.host_key
    as_host = transcript.model_copy(update={"prover": address_of(host)})
    refused = post_transcript(app_client, host, as_host)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"

    other = transcript.model_copy(update={"prover": address_of(host)})
    wrong = post_transcript(app_client, stack.prover_key, other)
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong_prover"

    garbage = b'{"license_id": "x"}'
    bad = app_client.post("/v1/transcripts", content=garbage,
                          headers=signed(stack.prover_key, "POST", "/v1/transcripts", garbage))
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_body"


def test_only_the_claimant_itself_an_active_verifier_may_ask_for_an_attestation(stack, app_client):
    transcript = stack.transcript(stack.fresh_fingerprint())
    verifiers = stack.chain.accounts.verifiers
    claimant = address_of(verifiers[1])

    body = attestation_body(transcript, address_of(stack.prover_key))
    stranger = app_client.post("/v1/attestations", content=body,
                               headers=signed(stack.prover_key, "POST", "/v1/attestations", body))
    assert stranger.status_code == 403

    body = attestation_body(transcript, claimant)
    not_claimant = app_client.post("/v1/attestations", content=body,
                                   headers=signed(verifiers[2], "POST", "/v1/attestations", body))
    assert not_claimant.status_code == 403 and not_claimant.json()["error"] == "not_claimant"

    attested = app_client.post("/v1/attestations", content=body,
                               headers=signed(verifiers[1], "POST", "/v1/attestations", body))
    assert attested.status_code == 200, attested.json()
    assert attested.json()["verifier"] == address_of(verifiers[0])


def test_a_peer_that_cannot_reach_the_permission_service_answers_503_not_a_verdict(stack):
    verifier = stack.verifier(1, "routes-down", permission_url=f"http://127.0.0.1:{free_port()}",
                              request_timeout_s=2)
    client = TestClient(create_app(verifier=verifier, run_worker=False))
    key = stack.chain.accounts.verifiers[0]
    body = attestation_body(stack.transcript(stack.fresh_fingerprint()), address_of(key))
    response = client.post("/v1/attestations", content=body, headers=signed(key, "POST", "/v1/attestations", body))
    assert response.status_code == 503 and response.json()["error"] == "unavailable"


def test_metrics_count_checks_by_verdict(stack, app_client):
    verifier = app_client.verifier
    verifier.process(stack.transcript(stack.fresh_fingerprint(), answer="no fingerprint here"))
    text = app_client.get("/metrics").text
    assert 'oml_verifier_transcripts_checked_total{verdict="no_fingerprint"} 1' in text
    assert app_client.get("/healthz").json()["verifier"] == verifier.address
