"""Fees cannot be dodged (issue 13, item 4), the permission service's half, on a real anvil: σ are
refused once their fees would exceed the escrow the chain shows (deposits less withdrawals, after
the confirmation depth, undone by a reorg that drops a deposit), and the final voucher of a license
whose host asks to exit is settled without anyone else acting."""
from __future__ import annotations

import logging
import secrets
import time
from concurrent.futures import Future

import pytest
from fastapi.testclient import TestClient
from permission_helpers import PRICE, make_settings, seed_license
from test_permission_chain_mirror import Chain, _mine, _revert, _snapshot

from oml_core import typed_data as td
from oml_core.chain.anvil import advance_time
from oml_core.chain.errors import TransactionFailed
from oml_core.demo import DEMO_TERMS, ETH
from services.permission.app import create_app
from services.permission.client import PermissionClient, ServiceError, voucher_of
from services.permission.issuance import _Request

PRICE_ON_CHAIN = DEMO_TERMS.price_per_query


@pytest.fixture
def chain(w3, deployment, anvil, database_url):
    chain = Chain(w3, deployment, anvil.private_keys, database_url)
    yield chain
    chain.service.stop()


def _host(http, chain, license_id) -> PermissionClient:
    client = PermissionClient(http)
    client.sign_in(bytes.fromhex(chain.host[2:]), "host", license_id)
    return client


def _q() -> bytes:
    return secrets.token_bytes(32)


def _refused(call) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call()
    return info.value


# ----------------------------------------------------------------------------- on anvil


def test_escrow_for_three_sigma_allows_three_and_refuses_the_fourth_with_the_reason(chain):
    license_id = chain.acquire(escrow=3 * PRICE_ON_CHAIN)
    _mine(chain.w3, 2)
    chain.service.mirror.poll_once()
    row = chain.row(license_id)
    assert (row.escrow_deposited, row.escrow_withdrawn, row.fee_budget) == (3 * PRICE_ON_CHAIN, 0, 3 * PRICE_ON_CHAIN)
    with TestClient(create_app(service=chain.service)) as http:
        host = _host(http, chain, license_id)
        assert [host.permission(license_id, _q())["sequence"] for _ in range(3)] == [1, 2, 3]
        refusal = _refused(lambda: host.permission(license_id, _q()))
        assert (refusal.status, refusal.code) == (402, "escrow_exhausted")
        assert "covers 3 σ" in refusal.detail and "3 issued, 0 left, asked for 1" in refusal.detail
        state = host.license(license_id)
        assert (state["issued"], state["fee_budget"]) == (3, 3 * PRICE_ON_CHAIN)
    assert chain.row(license_id).issued == 3  # the refused σ took no sequence number


def test_a_batch_that_would_cross_the_budget_is_refused_whole(chain):
    license_id = chain.acquire(escrow=3 * PRICE_ON_CHAIN)
    _mine(chain.w3, 2)
    chain.service.mirror.poll_once()
    with TestClient(create_app(service=chain.service)) as http:
        host = _host(http, chain, license_id)
        host.permission(license_id, _q())
        refusal = _refused(lambda: host.permissions(license_id, [_q() for _ in range(3)]))
        assert (refusal.status, refusal.code) == (402, "escrow_exhausted")
        assert "1 issued, 2 left, asked for 3" in refusal.detail
        assert [p["sequence"] for p in host.permissions(license_id, [_q(), _q()])] == [2, 3]


def test_a_deposit_allows_more_once_it_is_confirmed(chain):
    license_id = chain.acquire(escrow=PRICE_ON_CHAIN)
    _mine(chain.w3, 2)
    chain.service.mirror.poll_once()
    with TestClient(create_app(service=chain.service)) as http:
        host = _host(http, chain, license_id)
        host.permission(license_id, _q())
        assert _refused(lambda: host.permission(license_id, _q())).code == "escrow_exhausted"
        chain.oml.deposit_escrow(chain.host, license_id, 2 * PRICE_ON_CHAIN)
        chain.service.mirror.poll_once()  # not confirmed yet: the budget has not moved
        assert _refused(lambda: host.permission(license_id, _q())).code == "escrow_exhausted"
        _mine(chain.w3, 2)
        assert chain.service.mirror.poll_once() == 1
        assert chain.row(license_id).fee_budget == 3 * PRICE_ON_CHAIN
        assert [p["sequence"] for p in host.permissions(license_id, [_q(), _q()])] == [2, 3]
        assert _refused(lambda: host.permission(license_id, _q())).code == "escrow_exhausted"


def test_a_reorg_that_removes_a_deposit_removes_the_budget(chain):
    chain.service.mirror.confirmations = 0
    license_id = chain.acquire(escrow=PRICE_ON_CHAIN)
    chain.service.mirror.poll_once()
    fork = _snapshot(chain.w3)
    chain.oml.deposit_escrow(chain.host, license_id, 5 * PRICE_ON_CHAIN)
    chain.service.mirror.poll_once()
    assert chain.row(license_id).fee_budget == 6 * PRICE_ON_CHAIN
    _revert(chain.w3, fork)
    _mine(chain.w3, 3)  # the other branch: no second deposit
    chain.service.mirror.poll_once()
    assert not chain.service.mirror.reorg_detected
    assert chain.row(license_id).fee_budget == PRICE_ON_CHAIN
    with TestClient(create_app(service=chain.service)) as http:
        host = _host(http, chain, license_id)
        host.permission(license_id, _q())
        assert _refused(lambda: host.permission(license_id, _q())).code == "escrow_exhausted"


def test_settlements_and_fees_taken_from_stake_are_mirrored(chain):
    """A voucher beyond the escrow (signed outside the service) takes the rest from the stake:
    the mirror follows VoucherSettled and FeesCollected (the stake it leaves)."""
    license_id = chain.acquire(escrow=2 * PRICE_ON_CHAIN)
    voucher = td.UsageVoucher(license_id, 10, 10 * PRICE_ON_CHAIN, b"\1" * 32)
    chain.oml.settle(chain.admin, voucher, chain.oml.sign_voucher(chain.signer, voucher))
    _mine(chain.w3, 2)
    chain.service.mirror.poll_once()
    row = chain.row(license_id)
    assert (row.settled_queries, row.settled_fee) == (10, 10 * PRICE_ON_CHAIN)
    assert row.stake == 20 * ETH - 8 * PRICE_ON_CHAIN == chain.oml.license(license_id)["stake"]
    assert row.fee_budget == 2 * PRICE_ON_CHAIN  # the stake backs fees; it is no budget for σ


def _wait_settled(chain, license_id, queries, timeout=20.0) -> tuple:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        account = tuple(chain.oml.usage.functions.account(license_id).call())
        if account[0] >= queries:
            return account
        time.sleep(0.1)
    raise AssertionError(f"license {license_id}'s voucher for {queries} σ was not settled in {timeout} s; "
                         f"pending {chain.service.settler.pending()}")


def _wait_closed(chain, license_id, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if chain.oml.usage_closed(license_id):
            return
        time.sleep(0.1)
    raise AssertionError(f"license {license_id}'s usage account was not closed in {timeout} s; "
                         f"pending {chain.service.settler.pending()}")


def test_the_final_voucher_is_settled_when_the_host_requests_exit(chain, anvil):
    settler = anvil.private_keys[8]
    chain.service.stop()
    chain.settings = make_settings(chain.settings.database_url, confirmations=2, poll_interval_s=0.05,
                                   settler_key=settler)
    chain.service = chain.build()
    license_id = chain.acquire(escrow=3 * PRICE_ON_CHAIN)
    _mine(chain.w3, 2)
    chain.service.mirror.poll_once()
    with TestClient(create_app(service=chain.service)) as http:
        host = _host(http, chain, license_id)
        host.permissions(license_id, [_q() for _ in range(3)])
        assert chain.oml.usage.functions.account(license_id).call()[0] == 0
        chain.oml.request_exit(chain.host, license_id)  # the host's only act
        _mine(chain.w3, 2)
        chain.service.mirror.poll_once()  # applies ExitRequested; the settler does the rest
        settled_queries, settled_fee, escrow = _wait_settled(chain, license_id, 3)
    assert (settled_queries, settled_fee, escrow) == (3, 3 * PRICE_ON_CHAIN, 0)
    assert chain.oml.usage.functions.accruedRevenue(chain.model_id).call() == 3 * PRICE_ON_CHAIN
    _wait_closed(chain, license_id)
    # The mirror sees the settlement; a second exit notice finds nothing left to settle or close.
    _mine(chain.w3, 2)
    chain.service.mirror.poll_once()
    assert chain.row(license_id).settled_queries == 3
    assert chain.service.settler.settle_license(license_id) == "nothing"
    assert chain.service.settler.finish_license(license_id) == "nothing"
    # Closed, the host takes its stake back as soon as the unbonding ends.
    advance_time(chain.w3, chain.terms.unbonding_period + 1)
    assert chain.oml.withdraw_stake(chain.host, license_id) > 0


def test_an_exit_with_no_sigma_at_all_is_closed_and_the_host_is_not_held_back(chain, anvil):
    chain.service.stop()
    chain.settings = make_settings(chain.settings.database_url, confirmations=0, poll_interval_s=0.05,
                                   settler_key=anvil.private_keys[8])
    chain.service = chain.build()
    license_id = chain.acquire(escrow=ETH)
    chain.service.mirror.poll_once()
    chain.service.start()
    try:
        chain.oml.request_exit(chain.host, license_id)
        chain.service.mirror.poll_once()
        _wait_closed(chain, license_id)
    finally:
        chain.service.stop()
    assert chain.oml.usage_account(license_id)[0] == 0
    advance_time(chain.w3, chain.terms.unbonding_period + 1)
    assert chain.oml.withdraw_stake(chain.host, license_id) > 0


def test_an_exiting_host_whose_usage_is_not_closed_waits_a_second_unbonding(chain):
    """No settler key: nobody closes the account. The host cannot withdraw at the end of the
    unbonding (its last voucher could still be settled), only a second unbonding later."""
    chain.service.mirror.confirmations = 0
    license_id = chain.acquire(escrow=ETH)
    chain.service.mirror.poll_once()
    chain.oml.request_exit(chain.host, license_id)
    advance_time(chain.w3, chain.terms.unbonding_period + 1)
    with pytest.raises(TransactionFailed) as refused:
        chain.oml.withdraw_stake(chain.host, license_id)
    assert refused.value.error_name == "LicenseManager__UsageNotClosed"
    advance_time(chain.w3, chain.terms.unbonding_period)
    assert chain.oml.withdraw_stake(chain.host, license_id) > 0


def test_a_host_whose_service_has_no_settler_key_closes_its_own_account(chain, anvil, tmp_path):
    """POST /closure: refused while the license is active or its σ are unsettled; then signed, and
    the host (or anyone) closes the account on chain and withdraws when the unbonding ends."""
    import json

    from typer.testing import CliRunner

    from services.permission.cli import app as cli

    chain.service.mirror.confirmations = 0
    license_id = chain.acquire(escrow=ETH)
    chain.service.mirror.poll_once()
    with TestClient(create_app(service=chain.service)) as http:
        host = _host(http, chain, license_id)
        host.permissions(license_id, [_q(), _q()])
        refused = _refused(lambda: host.sign_closure(license_id))
        assert (refused.status, refused.code) == (409, "license_not_exiting")
        chain.oml.request_exit(chain.host, license_id)
        chain.service.mirror.poll_once()
        refused = _refused(lambda: host.sign_closure(license_id))
        assert (refused.status, refused.code) == (409, "usage_not_settled") and "2 σ issued, 0 settled" in refused.detail
        voucher, signature = voucher_of(host.sign_voucher(license_id))
        chain.oml.settle(chain.host, voucher, signature)
        chain.service.mirror.poll_once()
        closure = host.sign_closure(license_id)
        other = chain.acquire(escrow=ETH)  # a token for another license signs nothing for this one
        chain.service.mirror.poll_once()
        assert _refused(lambda: _host(http, chain, other).sign_closure(license_id)).code == "wrong_license"
    assert closure["cumulative_queries"] == 2
    (tmp_path / "closure.json").write_text(json.dumps(closure))
    chain.deployment.save(tmp_path / "deployment.json")
    result = CliRunner().invoke(cli, ["close", "--closure", str(tmp_path / "closure.json"), "--private-key",
                                      chain.host, "--deployment", str(tmp_path / "deployment.json"),
                                      "--rpc-url", anvil.url])
    assert result.exit_code == 0, result.output
    assert chain.oml.usage_closed(license_id)
    advance_time(chain.w3, chain.terms.unbonding_period + 1)
    assert chain.oml.withdraw_stake(chain.host, license_id) > 0


def test_a_failed_settlement_is_retried(chain, anvil, monkeypatch):
    chain.service.stop()
    chain.settings = make_settings(chain.settings.database_url, confirmations=0, poll_interval_s=0.05,
                                   settler_key=anvil.private_keys[8], settle_retry_initial_s=0.1)
    chain.service = chain.build()
    license_id = chain.acquire(escrow=ETH)
    chain.service.mirror.poll_once()
    settler = chain.service.settler
    real, calls = settler.oml.settle, []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionError("the RPC node hung up")
        return real(*args, **kwargs)

    monkeypatch.setattr(settler.oml, "settle", flaky)
    with TestClient(create_app(service=chain.service)) as http:
        _host(http, chain, license_id).permissions(license_id, [_q(), _q()])
        chain.oml.request_exit(chain.host, license_id)
        chain.service.mirror.poll_once()
        assert _wait_settled(chain, license_id, 2)[0] == 2
    assert len(calls) == 2


def test_an_unsettled_exit_found_at_start_is_settled(chain, anvil):
    """The service was down (or had no settler key) when the exit was applied: on start the
    settler picks up every exiting license whose usage is not settled."""
    chain.service.mirror.confirmations = 0
    license_id = chain.acquire(escrow=ETH)
    chain.service.mirror.poll_once()
    with TestClient(create_app(service=chain.service)) as http:
        _host(http, chain, license_id).permissions(license_id, [_q(), _q()])
    chain.oml.request_exit(chain.host, license_id)
    chain.service.mirror.poll_once()  # no settler key: only a warning
    chain.service.stop()
    chain.settings = make_settings(chain.settings.database_url, confirmations=0, poll_interval_s=0.05,
                                   settler_key=anvil.private_keys[8])
    chain.service = chain.build()
    chain.service.start()
    assert _wait_settled(chain, license_id, 2)[0] == 2


def test_without_a_settler_key_an_exit_logs_a_warning(chain, caplog):
    chain.service.mirror.confirmations = 0
    license_id = chain.acquire(escrow=ETH)
    chain.service.mirror.poll_once()
    with TestClient(create_app(service=chain.service)) as http:
        _host(http, chain, license_id).permission(license_id, _q())
    chain.oml.request_exit(chain.host, license_id)
    with caplog.at_level(logging.WARNING, logger="services.permission.settle"):
        chain.service.mirror.poll_once()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and f"license {license_id}" in r.message]
    assert warnings and "must be settled before its unbonding ends" in warnings[0].message
    assert chain.oml.usage.functions.account(license_id).call()[0] == 0


# ----------------------------------------------------------------------- without a chain


def test_a_license_without_escrow_gets_no_sigma_and_a_free_model_needs_none(service, http, keys):
    seed_license(service, 7, keys.host, escrow=0)
    seed_license(service, 8, keys.host, escrow=0, price=0)
    host = PermissionClient(http)
    host.sign_in(keys.host, "host", 7)
    refusal = _refused(lambda: host.permission(7, _q()))
    assert (refusal.status, refusal.code) == (402, "escrow_exhausted")
    host = PermissionClient(http)
    host.sign_in(keys.host, "host", 8)
    assert host.permission(8, _q())["sequence"] == 1


def test_requests_in_one_group_are_served_in_order_against_the_budget(service, keys):
    """The writer serves queued requests together: each one against what the earlier ones left."""
    seed_license(service, 9, keys.host, escrow=3 * PRICE)
    requests = [_Request(9, [_q(), _q()], Future()), _Request(9, [_q(), _q()], Future()),
                _Request(9, [_q()], Future())]
    service.writer._serve(requests)  # one group, one transaction
    first, second, third = (r.future for r in requests)
    assert [i.sequence for i in first.result()] == [1, 2]
    assert second.exception().code == "escrow_exhausted"
    assert [i.sequence for i in third.result()] == [3]


def test_a_chunk_is_applied_once_even_by_two_replicas(chain):
    """Escrow deposits add up, so a chunk applied twice would double a budget: a replica that read
    the cursor before another one moved it applies nothing (the chunk's transaction checks it)."""
    from services.permission.mirror import ChainMirror, _CursorMoved

    chain.service.mirror.confirmations = 0
    license_id = chain.acquire(escrow=3 * PRICE_ON_CHAIN)
    replica = ChainMirror(chain.service.db, chain.w3, chain.deployment, confirmations=0)
    start, end = chain.deployment.block_number, chain.w3.eth.block_number
    events = replica._fetch(start, end)  # what the replica read before the first one applied it
    assert [e.name for e in events][-2:] == ["LicenseAcquired", "EscrowDeposited"]
    assert chain.service.mirror.poll_once() >= 2
    with pytest.raises(_CursorMoved):
        replica._apply_chunk(start, end, replica._block_hash(end), events, None)
    assert replica.poll_once() == 0
    assert chain.row(license_id).fee_budget == 3 * PRICE_ON_CHAIN
