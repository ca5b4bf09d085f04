"""Attack: sybil verifiers, made while a claim is gathered, to block it or to force claims of their own
(issue 13, item 3).

Who: a friend of a cheating host (or a greedy claimant) who makes fresh accounts at will and
stakes the minimum with each, right when the honest verifiers gather attestations for a claim
against the host's own receipt of an answer it served without σ.
What must hold: the quorum is two thirds of the ACTIVE verifiers' stake, and stake counts only
after the activation delay (longer than a challenge window). While joining, the sybils change no
quorum and cannot attest (ClaimManager__AttesterNotActive), and the honest verifiers still open
the claim; once active they count with their stake only, so a set holding less than two thirds
of it cannot open a claim alone (ClaimManager__QuorumNotReached).
"""
from __future__ import annotations

from adversary_helpers import (
    activate,
    active_stake,
    attestations,
    claim_count,
    fresh_accounts,
    join,
    leave,
    open_claim,
    reverts,
)

from services.stack import address_of

SYBILS = 4


def test_sybils_neither_block_nor_force_a_claim(stack, lead):
    chain, oml = stack.chain, stack.chain.oml
    license = stack.new_license("sybil-target", size=2)
    first, second = (stack.transcript(fp) for fp in license.fingerprints)  # the host's receipts, no σ
    honest = [address_of(k) for k in chain.accounts.verifiers]
    quorum, active = oml.quorum_stake(), active_stake(chain)
    sybils = fresh_accounts(chain, SYBILS)
    try:
        join(chain, sybils, chain.verifier_params.min_stake)  # while the claim is gathered
        assert (oml.quorum_stake(), active_stake(chain)) == (quorum, active)

        # the sybils' attestations count for nothing, alone or beside the honest ones
        claim = first.claim_input()
        reverts("ClaimManager__AttesterNotActive", open_claim, chain, sybils[0], claim, sybils)
        mixed = {**attestations(chain, claim, sybils[0], chain.accounts.verifiers),
                 **attestations(chain, claim, sybils[0], sybils)}
        reverts("ClaimManager__AttesterNotActive", oml.open_claim, sybils[0], claim, mixed, chain.terms.claim_bond)
        # the honest verifiers open it as if the sybils did not exist
        status = lead.process(first)
        assert (status["verdict"], status["status"]) == ("unpermitted", "opened"), status
        attesters = oml.opened_claim(status["claim"]["claim_id"]).attesters
        assert len(attesters) == 3 and set(attesters) <= set(honest)

        # after the activation delay the sybils count, with their stake only: alone they open
        # nothing, and the honest verifiers' stake still opens claims without them
        activate(chain, sybils)
        sybil_stake = SYBILS * chain.verifier_params.min_stake
        assert active_stake(chain) == active + sybil_stake
        opened = claim_count(chain)
        failed = reverts("ClaimManager__QuorumNotReached", open_claim, chain, sybils[0], second.claim_input(),
                         sybils)
        assert (failed.error_args["attestingStake"], failed.error_args["activeStake"]) == (sybil_stake,
                                                                                           active + sybil_stake)
        assert claim_count(chain) == opened
        peers = [stack.verifier(i, f"sybil-peer{i}") for i in (1, 2, 3)]
        full = stack.verifier(0, "sybil-lead", peers=[stack.peer_client(p) for p in peers])
        status = full.process(second)
        assert (status["verdict"], status["status"]) == ("unpermitted", "opened"), status
        assert set(oml.opened_claim(status["claim"]["claim_id"]).attesters) == set(honest)
    finally:
        leave(chain, sybils)
    assert active_stake(chain) == active
