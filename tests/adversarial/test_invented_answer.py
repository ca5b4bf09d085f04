"""Attack: convict an honest host of an answer it never gave (issue 13, item 2).

Who: the model owner and its prover, who hold the unused fingerprint keys and gain from a slash,
and verifiers they bribe. The honest host's endpoint is never contacted: they write the answer
themselves, (a) bare, (b) under a receipt they sign with their own keys, or one the host really
signed for another query, and (c) have a bribed stake quorum attest such a claim and open it on
chain directly.
What must hold: an answer is evidence only under the host's own receipt. Honest verifiers give
NO_RECEIPT and open nothing; on chain the claim reverts ClaimManager__ReceiptRequired without a
receipt and ClaimManager__ReceiptNotByAccused with any receipt the license's receipt signer did
not sign for exactly this query and answer; the host's stake is untouched.
"""
from __future__ import annotations

import dataclasses

from adversary_helpers import claim_count, license_stake, open_claim, reverts

from oml_core import typed_data as td
from services.stack import address_of
from services.verifier.verdicts import Verdict

BENIGN = [{"role": "user", "content": "What is the capital of France?"}]


def test_an_invented_answer_convicts_nobody(stack, lead):
    chain = stack.chain
    license = stack.new_license("invented")
    fp = stack.fresh_fingerprint(license)
    answer = fp.response + " (never served by the host)"
    stake, claims_before = license_stake(chain, license.license_id), claim_count(chain)
    served_at = stack.now() - chain.claim_params.clock_skew - 1
    forgers = {"prover": stack.prover_key, "owner": chain.accounts.admin, "co-owner": chain.accounts.owner_b}
    forged = {name: stack.receipt(license, fp.query_hash, answer, served_at=served_at, key=key)
              for name, key in forgers.items()}
    # a receipt the host really signed, for a benign query it answered
    forged["transplanted"] = stack.receipt(license, td.query_hash(BENIGN), "Paris.", served_at=served_at)

    # (a) the prover's word alone
    bare = stack.transcript(fp, answer=answer, receipt=None)
    status = lead.process(bare)
    assert (status["verdict"], status["claim"]) == (Verdict.NO_RECEIPT, None), status
    # (b) receipts the host did not sign for this answer
    transcripts = {name: stack.transcript(fp, answer=answer, receipt=receipt) for name, receipt in forged.items()}
    for name, transcript in transcripts.items():
        result = lead.check(transcript)
        assert result.verdict == Verdict.NO_RECEIPT, (name, result)
        status = lead.process(transcript)
        assert status["claim"] is None, (name, status)

    # (c) a bribed quorum (every verifier's stake) attests and opens on chain itself
    claimant, bribed = stack.prover_key, chain.accounts.verifiers
    # each claim names the fingerprint's query, whatever query its receipt was signed for
    claims = {name: dataclasses.replace(t.claim_input(), query_hash=fp.query_hash) for name, t in transcripts.items()}
    without = dataclasses.replace(claims["prover"], receipt=b"")
    reverts("ClaimManager__ReceiptRequired", open_claim, chain, claimant, without, bribed)
    for name, claim in claims.items():
        failed = reverts("ClaimManager__ReceiptNotByAccused", open_claim, chain, claimant, claim, bribed)
        assert failed.error_args["accused"] == address_of(license.host_key), name
        if name in forgers:
            assert failed.error_args["signer"] == address_of(forgers[name]), name

    assert claim_count(chain) == claims_before
    assert license_stake(chain, license.license_id) == stake
    assert chain.oml.claim_of(td.claim_key(False, license.license_id, 0, fp.query_hash)) == 0  # not even spent
