"""Attack: a σ bought after the answer, to refute the claim it caused (issue 13, item 1).

Who: a cheating host. Its real gateway serves every query without σ (skip_permission_share=1),
so it pays no fee, but still signs its receipts as every gateway does. When it suspects a probe
it buys σ for that query from the real permission service, and when the claim appears it reads
the queryHash from ClaimOpened, asks for σ again and refutes; its own claim watcher tries the
same on its own.
What must hold: a σ clears a host only if it was issued no later than the receipt says the answer
was served. The honest verifiers give UNPERMITTED although the permission service now holds a σ
for the query, and open the claim; the host's refute reverts ClaimManager__PermissionAfterAnswer;
the watcher never manages it either; after the window the slash executes.
"""
from __future__ import annotations

from adversary_helpers import (
    copy_fingerprints,
    license_stake,
    past_window,
    permission_clock,
    probe,
    register_license,
    reverts,
)
from host_helpers import gateway, signed_in, wait_until

from oml_core import typed_data as td
from services.host.ledger import FAILED, PENDING, REFUTED, UNREFUTABLE
from services.permission.client import permission_of


def test_sigma_bought_after_serving_refutes_nothing(stack, tiny_copy, lead, tmp_path):
    chain, oml = stack.chain, stack.chain.oml
    host_key = chain.accounts.hosts[0]
    license = register_license(chain, stack.permission_url, host_key, copy_fingerprints("late-sigma"))
    fp = license.fingerprints[0]
    stake = license_stake(chain, license.license_id)
    host = signed_in(stack.permission_url, host_key, "host", license.license_id)

    model_dir, generator = tiny_copy
    with gateway(chain, model_dir, generator, tmp_path, license.license_id, host_key, stack.permission_url,
                 watch=True, watch_interval_s=0.2, skip_permission_share=1.0) as (url, gw):
        transcript = probe(url, license, fp, stack.prover_key)
        receipt, _ = transcript.answer_receipt()
        assert transcript.carries_fingerprint() and transcript.permission is None
        assert receipt.permission == td.NO_PERMISSION  # the gateway's own word: served without σ

        # A moment later the host buys σ for the probe it answered (the dev chain moves on, and
        # the permission service's clock follows it once its chain mirror saw the new block).
        chain.after_clock_skew()
        wait_until(lambda: permission_clock(host, host_key, license.license_id) > receipt.served_at,
                   what="the permission service's clock to pass the answer's time")
        late = host.permission(license.license_id, fp.query_hash)
        assert late["issued_at"] > receipt.served_at

        # The verifiers see that σ at the permission service, and still find the answer unpermitted.
        known = lead.permissions.permissions(license.license_id, fp.query_hash)
        assert known and all(p["issued_at"] > receipt.served_at for p in known)
        status = lead.process(transcript)
        assert (status["verdict"], status["status"]) == ("unpermitted", "opened"), status
        claim_id = status["claim"]["claim_id"]

        # The host reads the claim from ClaimOpened, asks σ for its queryHash and refutes.
        opened = oml.opened_claim(claim_id)
        assert opened.served_at == receipt.served_at
        sigma = host.permission(license.license_id, bytes(opened.record[9]))
        failed = reverts("ClaimManager__PermissionAfterAnswer", oml.refute, host_key, opened, permission_of(sigma),
                         bytes.fromhex(sigma["signature"][2:]))
        assert failed.error_args["servedAt"] == receipt.served_at
        # Its watcher finds that σ at the service too, and gets nowhere with it.
        seen = wait_until(lambda: (c := gw.ledger.claim(claim_id)) and (c.attempts or c.state != PENDING) and c,
                          what="the host's watcher to handle the claim")
        assert seen.state != REFUTED and oml.claim_status(claim_id) == "Open", seen

        past_window(chain)
        lead.run_once()
        assert oml.claim_status(claim_id) == "Executed"
        assert license_stake(chain, license.license_id) == stake - stake * chain.terms.slash_bps // 10_000
        done = wait_until(lambda: (c := gw.ledger.claim(claim_id)).state in (UNREFUTABLE, FAILED) and c,
                          what="the watcher to give the claim up")
    assert done.refute_tx is None and oml.claim_status(claim_id) == "Executed"
