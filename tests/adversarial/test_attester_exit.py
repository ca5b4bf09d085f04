"""Attack: attest a false claim, then leave the verifier set before the penalty can be taken
(issue 13, low: attesters cannot leave before the window in which they can be penalized ends).

Who: bribed verifiers holding a stake quorum of their own (they joined and waited out the
activation delay like anyone). They attest a claim against an honest host on its real receipt
of an answer it served under σ, and request to leave right after the claim opens, hoping to
withdraw their stake before the host refutes and has them penalized.
What must hold: every challenge window ends before the verifiers' unbonding does. The host
refutes with its σ; penalizeAttesters still takes each attester's penalty from the stake it is
unbonding and pays it to the host; their withdraw reverts VerifierRegistry__StillUnbonding; the
host's stake is untouched.
"""
from __future__ import annotations

from adversary_helpers import (
    activate,
    active_stake,
    fresh_accounts,
    gas_paid,
    join,
    leave,
    license_stake,
    new_license,
    open_claim,
    past_clock_skew,
    reverts,
    verifier_stake,
)

from services.permission.client import permission_of
from services.stack import address_of

LEAVING = 3  # VerifierRegistry.Status.Leaving


def test_attesters_who_leave_at_once_are_still_penalized(stack):
    chain, oml = stack.chain, stack.chain.oml
    license = new_license(stack, "attester-exit", size=1)
    fp = stack.fresh_fingerprint(license)
    sigma = stack.sigma(fp)
    transcript = stack.transcript(fp, permission=sigma)  # the honest gateway's receipt, under σ
    stake = license_stake(chain, license.license_id)

    honest_stake = active_stake(chain)
    bribed = fresh_accounts(chain, 3)
    join(chain, bribed, honest_stake)  # three times the honest stake: a quorum of their own
    activate(chain, bribed)
    claim = transcript.claim_input()
    past_clock_skew(chain, claim.served_at)
    opened = open_claim(chain, bribed[0], claim, bribed)
    leave(chain, bribed)  # right after the claim opened
    assert active_stake(chain) == honest_stake
    before = {key: verifier_stake(chain, key) for key in bribed}

    host_balance = chain.w3.eth.get_balance(address_of(license.host_key))
    refuted = oml.refute(license.host_key, opened, permission_of(sigma), bytes.fromhex(sigma["signature"][2:]))
    penalized = oml.penalize_attesters(license.host_key, opened)
    total = oml.event(oml.claims, "AttestersPenalized", penalized)["total"]
    penalty = {key: before[key] * chain.verifier_params.penalty_bps // 10_000 for key in bribed}
    assert total == sum(penalty.values()) > 0
    assert chain.w3.eth.get_balance(address_of(license.host_key)) == (
        host_balance + chain.terms.claim_bond + total - gas_paid(refuted) - gas_paid(penalized))
    for key in bribed:
        assert verifier_stake(chain, key) == before[key] - penalty[key]
        info = oml.verifiers.functions.verifierInfo(address_of(key)).call()
        assert info[3] == LEAVING and info[2] > opened.deadline  # unbonding outlasts the window
        failed = reverts("VerifierRegistry__StillUnbonding", oml.sender(key).send,
                         oml.verifiers.functions.withdraw())
        assert failed.error_args["verifier"] == address_of(key)
    assert oml.claim_status(opened.claim_id) == "AttestersPenalized"
    assert license_stake(chain, license.license_id) == stake
