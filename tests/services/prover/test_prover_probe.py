"""A probe sends exactly the fingerprint's key and hands a signed transcript, with a Merkle proof
against the license's root, to a verifier; the local outcome says whether σ and the response came back."""
from __future__ import annotations

import pytest
from prover_helpers import LICENSE_ID, fake_permission

from oml_core.fingerprint.commit import Commitment, commitment_root, verify_fingerprint
from oml_core.fingerprint.record import Fingerprint
from services.prover.errors import FingerprintsRejected, NotConfigured
from services.prover.hosts import Target


def test_probe_sends_the_key_and_delivers_a_verifiable_transcript(make_prover, host, target, verifier,
                                                                  fingerprints):
    prover = make_prover(verifier_urls=[verifier.url])
    prover.load(LICENSE_ID, fingerprints)

    result = prover.probe(target)

    sent = host.requests[-1]
    transcript = result.transcript
    used = transcript.fingerprint.fingerprint()
    assert used in fingerprints
    assert sent["messages"] == used.messages and sent["temperature"] == 0
    assert len(used.response.encode()) <= sent["max_tokens"] <= 64
    # The verifier got it, signed by the prover, and the leaf proves into the committed root.
    assert [(signer, t) for signer, t in verifier.received] == [(prover.address, transcript)]
    assert verify_fingerprint(used, transcript.fingerprint.proof_bytes(), commitment_root(fingerprints))
    assert transcript.is_fingerprint_query() and transcript.prover == prover.address
    # Served without σ by a model that answers the key: what a verifier turns into a claim.
    assert (result.status, result.verifier) == ("delivered", verifier.url)
    assert result.carried_fingerprint and not result.had_permission and transcript.permission is None
    logged = prover.log.recent(1)[0]
    assert (logged["kind"], logged["status"], logged["verifier"], logged["matched"]) == (
        "probe", "delivered", verifier.url, True)
    # The prover can follow up with the verifier that took it, under the verifier's name for it.
    assert logged["transcript_id"] == "0x" + transcript.evidence_hash().hex()
    assert prover.verdict(result.query_id)["verdict"] == "unpermitted"


def test_probe_keeps_the_hosts_permission(make_prover, host, target, verifier, fingerprints):
    host.permission = lambda messages: fake_permission(LICENSE_ID, messages, sequence=41)
    prover = make_prover(verifier_urls=[verifier.url])
    prover.load(LICENSE_ID, fingerprints)

    result = prover.probe(target)

    assert result.had_permission and result.permission_id == f"{LICENSE_ID}:41"
    assert result.transcript.permission["sequence"] == 41
    assert verifier.received[0][1].permission == result.transcript.permission
    assert prover.status().licenses[0].queries.probes_with_permission == 1


def test_probe_of_a_model_without_the_fingerprint_is_not_a_match(make_prover, target, verifier):
    prover = make_prover(verifier_urls=[verifier.url])
    prover.load(LICENSE_ID, [Fingerprint("What is the secret word?", "xylophone quartz meridian")])

    result = prover.probe(target)

    assert not result.carried_fingerprint and result.status == "delivered"


def test_a_subset_of_keys_proves_into_the_full_commitment(make_prover, target, verifier, fingerprints):
    full = Commitment.of(fingerprints)
    prover = make_prover(verifier_urls=[verifier.url])
    prover.load(LICENSE_ID, fingerprints[:2], full, expected_root=full.root)

    transcript = prover.probe(target).transcript

    revealed = transcript.fingerprint
    assert verify_fingerprint(revealed.fingerprint(), revealed.proof_bytes(), full.root)
    assert prover.keys.remaining(LICENSE_ID) == 1


def test_load_refuses_keys_outside_the_commitment_or_root(make_prover, fingerprints):
    prover = make_prover()
    with pytest.raises(FingerprintsRejected, match="not in the commitment"):
        prover.load(LICENSE_ID, fingerprints[:2], Commitment.of(fingerprints[2:]))
    with pytest.raises(FingerprintsRejected, match="license 7 has root"):
        prover.load(LICENSE_ID, fingerprints, expected_root=b"\x01" * 32)
    prover.load(LICENSE_ID, fingerprints[:3])
    with pytest.raises(FingerprintsRejected, match="already has keys under root"):
        prover.load(LICENSE_ID, fingerprints[3:])
    assert prover.load(LICENSE_ID, fingerprints[:3]).added == 0  # reloading the same set is harmless
    assert prover.keys.remaining(LICENSE_ID) == 3


def test_a_key_is_used_up_even_when_the_host_is_down(make_prover, verifier, fingerprints):
    from oml_core.chain.anvil import free_port

    prover = make_prover(verifier_urls=[verifier.url])
    prover.load(LICENSE_ID, fingerprints)

    result = prover.probe(Target(LICENSE_ID, f"http://127.0.0.1:{free_port()}"))

    assert result.status == "host_error" and result.transcript is None
    assert prover.keys.remaining(LICENSE_ID) == len(fingerprints) - 1
    assert verifier.received == []
    assert prover.status().licenses[0].queries.host_errors == 1


def test_probing_without_a_prover_key_takes_no_key(make_prover, target, fingerprints):
    prover = make_prover(key=None)
    prover.load(LICENSE_ID, fingerprints)
    with pytest.raises(NotConfigured, match="OML_PROVER_KEY"):
        prover.probe(target)
    assert prover.keys.remaining(LICENSE_ID) == len(fingerprints)
