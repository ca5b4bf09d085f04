"""The claim watcher refutes a false claim on chain with the σ the host holds, then has the
attesters penalized; it leaves a claim alone when the host really served without σ."""
from __future__ import annotations

import time

from host_helpers import gateway, signed_in, wait_until
from openai import OpenAI

from oml_core import typed_data as td
from oml_core.chain.clock import ChainClock
from oml_core.contracts import ClaimInput
from oml_core.fingerprint.commit import commitment_tree, proof_for
from services.common.receipt import permission_struct_hash
from services.host.ledger import DONE, UNREFUTABLE, Ledger
from services.host.permits import PermissionSource
from services.host.watcher import ClaimWatcher
from services.stack import address_of


def open_false_claim(chain, license_id, fps, fp, host_key, permission: dict | None = None):
    """The rogue opens an UNPERMITTED_USE claim for `fp` with every verifier's attestation, on
    the host gateway's real receipt of its answer (served under `permission`, stamped, as an
    honest gateway does, no earlier than the σ was issued)."""
    served_at = int(ChainClock.of(chain.w3)())
    if permission is not None:
        served_at = max(served_at, int(permission["issued_at"]))
    receipt = td.AnswerReceipt(license_id, fp.query_hash, td.response_hash(fp.response + "!"), served_at,
                               permission_struct_hash(permission))
    signature = td.sign_typed(receipt, chain.oml.receipt_domain, bytes.fromhex(host_key.removeprefix("0x")))
    claim = ClaimInput.unpermitted_use(receipt, signature, td.response_hash(fp.response), fp.salt,
                                       proof_for(commitment_tree(fps), fp), td.keccak(b"a transcript"))
    chain.after_clock_skew()  # a claim opens a clock skew after its answer
    claimant = address_of(chain.accounts.rogue)
    attestations = {address_of(k): chain.oml.attest(bytes.fromhex(k.removeprefix("0x")), claim, claimant)
                    for k in chain.accounts.verifiers}
    return chain.oml.open_claim(chain.accounts.rogue, claim, attestations, chain.terms.claim_bond)


def gas_paid(w3, tx_hash: str) -> int:
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def test_the_watcher_refutes_a_false_claim_and_takes_the_bond(chain, permission, model_dir, generator, tmp_path,
                                                              licensed, host_key):
    license_id, fps = licensed
    fp = fps[0]
    w3 = chain.w3
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url, watch=True,
                 watch_interval_s=0.3) as (url, gw):
        reply = OpenAI(base_url=url + "/v1", api_key="x", max_retries=0).chat.completions.create(
            model="oml", messages=fp.messages, max_tokens=2)
        assert reply.model_extra["oml"]["permission"] is not None  # served with σ
        host_before = w3.eth.get_balance(address_of(host_key))
        rogue_before = w3.eth.get_balance(address_of(chain.accounts.rogue))
        opened = open_false_claim(chain, license_id, fps, fp, host_key, reply.model_extra["oml"]["permission"])
        state = wait_until(lambda: (c := gw.ledger.claim(opened.claim_id)) and c.state == DONE and c,
                           what="the watcher to refute and penalize")
    assert chain.oml.claim_status(opened.claim_id) == "AttestersPenalized"
    penalties = chain.oml.claims.events.AttestersPenalized().get_logs(
        from_block=0, argument_filters={"claimId": opened.claim_id})[0]["args"]["total"]
    assert penalties > 0
    gas = gas_paid(w3, state.refute_tx) + gas_paid(w3, state.penalize_tx)
    host_after = w3.eth.get_balance(address_of(host_key))
    assert host_after - host_before == chain.terms.claim_bond + penalties - gas  # the bond went to the host
    assert w3.eth.get_balance(address_of(chain.accounts.rogue)) < rogue_before - chain.terms.claim_bond + 1


def test_the_watcher_finds_sigma_at_the_service_and_is_idempotent(chain, permission, tmp_path, licensed,
                                                                   host_key):
    license_id, fps = licensed
    fp = fps[1]
    host = signed_in(permission.url, host_key, "host", license_id)
    sigma = host.permission(license_id, fp.query_hash)  # σ the host obtained, but its ledger is lost
    opened = open_false_claim(chain, license_id, fps, fp, host_key, sigma)
    ledger = Ledger(f"sqlite:///{tmp_path}/fresh.db")
    source = PermissionSource(permission.url, bytes.fromhex(host_key[2:]), license_id)
    watcher = ClaimWatcher(chain.oml, ledger, license_id, host_key, lookup=source.lookup)
    watcher.poll_once()
    done = ledger.claim(opened.claim_id)
    assert done.state == DONE and chain.oml.claim_status(opened.claim_id) == "AttestersPenalized"
    # a restarted watcher on the same ledger resumes from its cursor and sends nothing again
    nonce = chain.w3.eth.get_transaction_count(address_of(host_key))
    ClaimWatcher(chain.oml, ledger, license_id, host_key, lookup=source.lookup).poll_once()
    assert chain.w3.eth.get_transaction_count(address_of(host_key)) == nonce
    assert ledger.claim(opened.claim_id) == done


def test_a_claim_for_a_query_served_without_sigma_is_not_refuted(chain, permission, tmp_path, licensed, host_key):
    license_id, fps = licensed
    opened = open_false_claim(chain, license_id, fps, fps[2], host_key)  # nobody ever obtained σ for this key
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    source = PermissionSource(permission.url, bytes.fromhex(host_key[2:]), license_id)
    ClaimWatcher(chain.oml, ledger, license_id, host_key, lookup=source.lookup).poll_once()
    assert ledger.claim(opened.claim_id).state == UNREFUTABLE
    assert chain.oml.claim_status(opened.claim_id) == "Open"


def test_a_sigma_bought_after_the_answer_is_not_used_to_refute(chain, permission, tmp_path, licensed, host_key):
    """A host that served without σ and bought one afterwards holds a σ the chain rejects: the
    watcher says so instead of sending a refute that would revert."""
    license_id, fps = licensed
    opened = open_false_claim(chain, license_id, fps, fps[3], host_key)  # served without σ
    time.sleep(1.0)  # the permission service's clock catches up with the chain moved on above
    signed_in(permission.url, host_key, "host", license_id).permission(license_id, fps[3].query_hash)  # too late
    ledger = Ledger(f"sqlite:///{tmp_path}/late.db")
    source = PermissionSource(permission.url, bytes.fromhex(host_key[2:]), license_id)
    nonce = chain.w3.eth.get_transaction_count(address_of(host_key))
    ClaimWatcher(chain.oml, ledger, license_id, host_key, lookup=source.lookup).poll_once()
    state = ledger.claim(opened.claim_id)
    assert state.state == UNREFUTABLE and "outside" in state.last_error
    assert chain.w3.eth.get_transaction_count(address_of(host_key)) == nonce
    assert chain.oml.claim_status(opened.claim_id) == "Open"
