"""Claims end to end with in-process verifiers on a real chain: quorum, open, execute, refute,
peers that refuse, and a crash between sending openClaim and recording it."""
from __future__ import annotations

import time

import pytest
from verifier_helpers import attestation_body, signed

from oml_core import typed_data as td
from oml_core.chain.anvil import advance_time
from oml_core.chain.errors import TransactionFailed
from services.permission.client import permission_of
from services.stack import LOCAL_TERMS, address_of
from services.verifier.db import OPENED
from services.verifier.permission_lookup import PermissionLookup
from services.verifier.verdicts import Verdict


def lead_db(request) -> str:
    return f"{request.node.name}-lead"


@pytest.fixture
def trio(stack, request):
    """Verifier 0 leads; verifiers 1 and 2 are its in-process peers (quorum is 3 of 4)."""
    peers = [stack.verifier(i, f"{request.node.name}-peer{i}") for i in (1, 2)]
    lead = stack.verifier(0, lead_db(request), peers=[stack.peer_client(p) for p in peers])
    return lead, peers


def ask(client, key, transcript, claimant):
    body = attestation_body(transcript, claimant)
    headers = signed(key, "POST", "/v1/attestations", body)
    return client.post("/v1/attestations", content=body, headers=headers)


def claim_count(stack) -> int:
    return stack.chain.oml.claims.functions.claimCount().call()


def test_unpermitted_transcript_is_claimed_with_a_quorum_and_slashed_after_the_window(stack, trio):
    lead, _ = trio
    oml = stack.chain.oml
    license_id = stack.slashable.license_id
    stake_before = oml.license(license_id)["stake"]
    fp = stack.fresh_fingerprint(stack.slashable)

    status = lead.process(stack.transcript(fp))

    assert status["verdict"] == "unpermitted" and status["status"] == "opened", status
    claim_id = status["claim"]["claim_id"]
    assert oml.claim_status(claim_id) == "Open"
    assert len(oml.opened_claim(claim_id).attesters) == 3
    assert oml.claim_of(td.claim_key(False, license_id, 0, fp.query_hash)) == claim_id

    lead.run_once()  # inside the window: nothing to do
    assert lead.transcript_status(status["transcript_id"])["status"] == "opened"

    advance_time(stack.chain.w3, LOCAL_TERMS.challenge_window + 1)
    lead.run_once()

    after = lead.transcript_status(status["transcript_id"])
    assert after["status"] == "executed" and "slashed" in after["claim"]["outcome"]
    assert oml.claim_status(claim_id) == "Executed"
    assert oml.license(license_id)["stake"] == stake_before - stake_before * LOCAL_TERMS.slash_bps // 10_000
    # the leaf stays spent: the same fingerprint cannot be claimed again
    again = lead.check(stack.transcript(fp, answer=fp.response + " again"))
    assert again.verdict == Verdict.UNCLAIMABLE and f"claim {claim_id}" in again.reason


def test_a_refuted_claim_is_recorded_with_its_lost_bond(stack, trio, monkeypatch):
    """Verifiers that never ask the permission service (lazy, or bribed) claim an answer the host
    served with σ; the host refutes with that σ and the lead records the lost bond."""
    lead, _ = trio
    fp = stack.fresh_fingerprint()
    sigma = stack.sigma(fp)  # issued before the answer was served
    monkeypatch.setattr(PermissionLookup, "permissions", lambda *_args: [])
    transcript = stack.transcript(fp, served_at=sigma["issued_at"])
    stack.chain.after_clock_skew()
    status = lead.process(transcript)
    claim_id = status["claim"]["claim_id"]
    stack.chain.oml.refute(stack.clean.host_key, stack.chain.oml.opened_claim(claim_id), permission_of(sigma),
                           bytes.fromhex(sigma["signature"][2:]))
    lead.run_once()
    after = lead.transcript_status(status["transcript_id"])
    assert after["status"] == "refuted" and str(LOCAL_TERMS.claim_bond) in after["claim"]["outcome"]


def test_a_sigma_bought_after_the_claim_opened_refutes_nothing(stack, trio):
    """The attack of issue 13 #1: the host reads the queryHash from ClaimOpened, buys σ for it and
    tries to refute. The σ was issued after the answer: the refute reverts and the slash goes on."""
    lead, _ = trio
    oml = stack.chain.oml
    license = stack.new_license("late-sigma")
    fp = stack.fresh_fingerprint(license)
    status = lead.process(stack.transcript(fp))
    claim_id = status["claim"]["claim_id"]
    late = stack.sigma(fp)
    with pytest.raises(TransactionFailed) as failed:
        oml.refute(license.host_key, oml.opened_claim(claim_id), permission_of(late),
                   bytes.fromhex(late["signature"][2:]))
    assert failed.value.error_name == "ClaimManager__PermissionAfterAnswer"
    advance_time(stack.chain.w3, LOCAL_TERMS.challenge_window + 1)
    lead.run_once()
    assert oml.claim_status(claim_id) == "Executed"


def test_without_enough_peers_the_claim_waits_in_gathering(stack):
    lead = stack.verifier(0, "lonely-lead", peers=[])
    fp = stack.fresh_fingerprint()
    before = claim_count(stack)
    status = lead.process(stack.transcript(fp))
    assert status["status"] == "gathering" and "stake a quorum needs" in status["claim"]["last_error"]
    assert claim_count(stack) == before


def test_a_peer_refuses_to_attest_what_it_finds_honest_or_invalid(stack, trio):
    _, peers = trio
    client = stack.peer_client(peers[0])
    lead_key = stack.chain.accounts.verifiers[0]
    fp = stack.fresh_fingerprint()
    honest = stack.transcript(fp, permission=stack.sigma(fp))
    response = ask(client, lead_key, honest, address_of(lead_key))
    assert response.status_code == 409 and response.json()["error"] == "honest"

    bad = stack.transcript(stack.fresh_fingerprint(), messages=[{"role": "user", "content": "hello"}])
    response = ask(client, lead_key, bad, address_of(lead_key))
    assert response.status_code == 422 and response.json()["error"] == "invalid"


def test_a_crash_after_sending_open_claim_is_adopted_on_restart_never_reopened(stack, trio, monkeypatch,
                                                                               request):
    lead, _ = trio
    fp = stack.fresh_fingerprint()
    before = claim_count(stack)

    def crash(*_args):
        raise RuntimeError("killed between the transaction and the database write")

    monkeypatch.setattr(lead.store, "claim_opened", crash)
    status = lead.process(stack.transcript(fp))
    assert status["status"] == "gathering" and "killed" in status["claim"]["last_error"]
    assert claim_count(stack) == before + 1  # the transaction went out

    restarted = stack.verifier(0, lead_db(request), peers=lead.peers)
    time.sleep(0.1)  # past the back-off
    restarted.run_once()
    after = restarted.transcript_status(status["transcript_id"])
    assert after["status"] == OPENED and after["claim"]["claim_id"] == before + 1
    assert claim_count(stack) == before + 1


def test_two_transcripts_of_one_fingerprint_share_one_claim(stack, trio):
    lead, _ = trio
    fp = stack.fresh_fingerprint()
    before = claim_count(stack)
    first = lead.submit(stack.transcript(fp))
    second = lead.submit(stack.transcript(fp, answer=fp.response + ", said differently"))
    assert first["transcript_id"] != second["transcript_id"]
    lead.run_once()
    statuses = [lead.transcript_status(t["transcript_id"]) for t in (first, second)]
    assert [s["status"] for s in statuses] == ["opened", "opened"]
    assert statuses[0]["claim"]["claim_id"] == statuses[1]["claim"]["claim_id"] == before + 1
    assert claim_count(stack) == before + 1
