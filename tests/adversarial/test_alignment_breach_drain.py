"""Attack: drain a host's stake with claims that cannot be refuted, or with many claims at once
(issue 13, item 3).

Who: a stake quorum of verifiers (bribed, or honest ones against a real cheater) and the
claimants they attest for. (a) They open ALIGNMENT_BREACH claims (no refutation at all), LEAK
claims (no receipt: a bribed quorum could date them before any σ) and LINEAGE claims (no appeal)
against an honest host. (b) Against a host whose own receipts show it served three fingerprint
keys without σ, they open three UNPERMITTED_USE claims at once, each of which would snapshot
the whole stake.
What must hold: the default deployment enables UNPERMITTED_USE alone, so every other kind
reverts ClaimManager__KindDisabled and nothing is reserved or slashed; and the open claims
against a license never reserve more than its stake: at slashBps 50% the third reverts
ClaimManager__NothingLeftToSlash, and executing all of them takes exactly the stake, no more.
"""
from __future__ import annotations

import dataclasses

from adversary_helpers import (
    claim_count,
    license_stake,
    open_claim,
    past_window,
    pending_slash,
    reverts,
)

from oml_core import typed_data as td


def test_kinds_without_a_sound_refutation_are_disabled(stack):
    chain = stack.chain
    assert chain.oml.claim_config()[1] == (1 << td.ClaimKind.UNPERMITTED_USE) | (1 << td.ClaimKind.OBSERVED_USE)
    license = stack.new_license("disabled-kinds", size=1)
    transcript = stack.transcript(stack.fresh_fingerprint(license))
    stake, before = license_stake(chain, license.license_id), claim_count(chain)
    unpermitted = transcript.claim_input()
    no_receipt = {"answer_hash": bytes(32), "receipt": b""}
    claims = {
        td.ClaimKind.ALIGNMENT_BREACH: dataclasses.replace(unpermitted, kind=td.ClaimKind.ALIGNMENT_BREACH,
                                                           proof=[], **no_receipt),
        td.ClaimKind.LEAK: dataclasses.replace(unpermitted, kind=td.ClaimKind.LEAK, **no_receipt),
        td.ClaimKind.LINEAGE: dataclasses.replace(unpermitted, kind=td.ClaimKind.LINEAGE, subject_id=chain.model_id,
                                                  family_id=chain.model_id, **no_receipt),
    }
    for kind, claim in claims.items():
        failed = reverts("ClaimManager__KindDisabled", open_claim, chain, stack.prover_key, claim,
                         chain.accounts.verifiers)
        assert failed.error_args["kind"] == kind
    assert claim_count(chain) == before
    assert (license_stake(chain, license.license_id), pending_slash(chain, license.license_id)) == (stake, 0)


def test_concurrent_claims_never_reserve_more_than_the_stake(stack):
    chain, oml = stack.chain, stack.chain.oml
    license = stack.new_license("drain", size=3)
    stake = license_stake(chain, license.license_id)
    share = stake * chain.terms.slash_bps // 10_000
    claims = [stack.transcript(fp).claim_input() for fp in license.fingerprints]  # three receipts, no σ

    opened = [open_claim(chain, stack.prover_key, claim, chain.accounts.verifiers) for claim in claims[:2]]
    assert [claim.record[6] for claim in opened] == [share, stake - share]  # slashAmount
    assert pending_slash(chain, license.license_id) == stake
    reverts("ClaimManager__NothingLeftToSlash", open_claim, chain, stack.prover_key, claims[2],
            chain.accounts.verifiers)

    past_window(chain)
    slashed = [oml.event(oml.claims, "ClaimExecuted", oml.execute(stack.prover_key, claim))["slashed"]
               for claim in opened]
    assert sum(slashed) == stake
    assert (license_stake(chain, license.license_id), pending_slash(chain, license.license_id)) == (0, 0)
