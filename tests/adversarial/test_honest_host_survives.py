"""Attack: slash an honest host on its own, real receipt (issue 13: no honest host is slashed).

Who: the owner's prover and verifiers it bribed, holding a stake quorum (all four verifiers).
The honest host's real gateway takes σ for every query before answering, so honest verifiers
find its answers HONEST; the prover probes it with a fingerprint key, and the bribed quorum
attests a claim on the host's genuine receipt anyway and opens it.
What must hold: the host's gateway, with its claim watcher on and nobody's help, refutes the
claim with the σ it served under (issued no later than its receipt says it served) and has the
attesters penalized: it gains the claimant's bond and the penalties, and its stake never drops.
"""
from __future__ import annotations

from adversary_helpers import (
    copy_fingerprints,
    gas_paid,
    license_stake,
    open_claim,
    past_clock_skew,
    probe,
    register_license,
)
from host_helpers import gateway, wait_until

from services.common.receipt import permission_struct_hash
from services.host.ledger import DONE
from services.stack import address_of
from services.verifier.verdicts import Verdict


def test_an_honest_host_refutes_a_bribed_claim_on_its_own(stack, tiny_copy, lead, tmp_path):
    chain, oml, w3 = stack.chain, stack.chain.oml, stack.chain.w3
    host_key = chain.accounts.hosts[0]
    license = register_license(chain, stack.permission_url, host_key, copy_fingerprints("honest"))
    fp = license.fingerprints[0]
    stake = license_stake(chain, license.license_id)

    model_dir, generator = tiny_copy
    with gateway(chain, model_dir, generator, tmp_path, license.license_id, host_key, stack.permission_url,
                 watch=True, watch_interval_s=0.2) as (url, gw):
        transcript = probe(url, license, fp, stack.prover_key)
        receipt, _ = transcript.answer_receipt()
        assert transcript.carries_fingerprint() and transcript.permission is not None
        assert receipt.permission == permission_struct_hash(transcript.permission)
        assert transcript.permission["issued_at"] <= receipt.served_at
        assert lead.check(transcript).verdict == Verdict.HONEST  # no honest verifier attests it

        claim = transcript.claim_input()  # the host's genuine receipt, attested by bribed stake
        past_clock_skew(chain, claim.served_at)
        host_balance = w3.eth.get_balance(address_of(host_key))
        opened = open_claim(chain, chain.accounts.rogue, claim, chain.accounts.verifiers)
        assert license_stake(chain, license.license_id) == stake
        done = wait_until(lambda: (c := gw.ledger.claim(opened.claim_id)) and c.state == DONE and c,
                          what="the host's watcher to refute and have the attesters penalized")

    assert oml.claim_status(opened.claim_id) == "AttestersPenalized"
    penalties = oml.claims.events.AttestersPenalized().get_logs(
        from_block=0, argument_filters={"claimId": opened.claim_id})[0]["args"]["total"]
    assert penalties > 0
    gas = sum(gas_paid(w3.eth.get_transaction_receipt(tx)) for tx in (done.refute_tx, done.penalize_tx))
    assert w3.eth.get_balance(address_of(host_key)) == host_balance + chain.terms.claim_bond + penalties - gas
    assert license_stake(chain, license.license_id) == stake
