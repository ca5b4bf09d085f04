"""Transcripts are never dropped: the next verifier is tried when one is down, and what nobody
accepted waits in the database until flush() delivers it, also after a restart."""
from __future__ import annotations

from eth_account import Account
from prover_helpers import LICENSE_ID, StandInVerifier, serving

from oml_core.chain.anvil import free_port


def test_a_down_verifier_is_skipped(make_prover, target, verifier, fingerprints):
    down = f"http://127.0.0.1:{free_port()}"
    prover = make_prover(verifier_urls=[down, verifier.url])
    prover.load(LICENSE_ID, fingerprints)

    results = [prover.probe(target) for _ in range(2)]  # the rotation starts once at each verifier

    assert [r.verifier for r in results] == [verifier.url, verifier.url]
    assert [t for _, t in verifier.received] == [r.transcript for r in results]
    assert prover.status().pending_transcripts == 0


def test_a_transcript_waits_for_a_verifier_and_survives_a_restart(make_prover, target, fingerprints,
                                                                   prover_key):
    port = free_port()
    prover = make_prover(verifier_urls=[f"http://127.0.0.1:{port}"])
    prover.load(LICENSE_ID, fingerprints)

    result = prover.probe(target)

    assert (result.status, result.verifier) == ("pending", None)
    assert prover.flush().pending == 1
    assert prover.log.recent(1)[0]["status"] == "pending"
    prover.close()

    late = StandInVerifier({Account.from_key(prover_key).address})
    with serving(late.app, port):
        restarted = make_prover(verifier_urls=[f"http://127.0.0.1:{port}"])
        flushed = restarted.flush()

    assert (flushed.delivered, flushed.pending) == (1, 0)
    assert [t for _, t in late.received] == [result.transcript]
    assert restarted.log.recent(1)[0]["status"] == "delivered"
    assert restarted.flush().delivered == 0  # delivered once, not again


def test_a_refusing_verifier_does_not_count_as_delivery(make_prover, target, fingerprints):
    stranger_only = StandInVerifier({"0x" + "00" * 20})  # does not know this prover
    with serving(stranger_only.app) as url:
        prover = make_prover(verifier_urls=[url])
        prover.load(LICENSE_ID, fingerprints)
        result = prover.probe(target)

    assert result.status == "pending" and stranger_only.received == []
    assert any("may not call" in reason for reason in stranger_only.refusals)
    assert "HTTP 403" in prover.log.recent(1)[0]["detail"]
