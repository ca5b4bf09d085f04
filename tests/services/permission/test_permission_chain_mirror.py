"""The service against a real anvil: license state mirrored from events (confirmation depth,
cursor across restarts, reorgs), σ that the ClaimManager accepts, vouchers that settle."""
from __future__ import annotations

import dataclasses
import secrets

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from permission_helpers import make_settings

from oml_core import typed_data as td
from oml_core.chain.anvil import advance_time
from oml_core.chain.errors import TransactionFailed
from oml_core.contracts import OMLContracts
from oml_core.demo import DEMO_TERMS, ETH
from services.permission.app import create_app
from services.permission.client import PermissionClient, ServiceError, permission_of
from services.permission.db.models import License
from services.permission.mirror import DeepReorg
from services.permission.service import build_service
from services.permission.settle import settle_voucher


def _addr(key) -> str:
    return Account.from_key(key).address


def _mine(w3, n: int = 1) -> None:
    for _ in range(n):
        w3.provider.make_request("evm_mine", [])


class Chain:
    """A model whose permission signer is the service's key, and one host."""

    def __init__(self, w3, deployment, keys, database_url, quota=DEMO_TERMS.quota, confirmations=2):
        self.w3, self.deployment = w3, deployment
        self.oml = OMLContracts(w3, deployment)
        self.admin, self.host = keys[0], keys[2]
        self.signer = secrets.token_bytes(32)
        self.terms = dataclasses.replace(DEMO_TERMS, quota=quota)
        self.model_id = self.oml.register_model(self.admin, [_addr(self.admin)], [1], _addr(self.signer),
                                                self.terms)
        self.settings = make_settings(database_url, confirmations=confirmations, poll_interval_s=0.05)
        self.service = self.build()

    def build(self):
        return build_service(self.settings, private_key=self.signer, deployment=self.deployment, w3=self.w3)

    def acquire(self, escrow: int = 0) -> int:
        """A license of the host, with `escrow` deposited (a second event) when given."""
        license_id = self.oml.acquire_license(self.host, self.model_id, "https://h.example/v1", 20 * ETH)
        if escrow:
            self.oml.deposit_escrow(self.host, license_id, escrow)
        return license_id

    def used_and_vouched(self, n: int) -> tuple[int, dict]:
        """A new license with escrow, mirrored, n σ issued to its host and a voucher signed over
        them: (license id, voucher body)."""
        license_id = self.acquire()
        self.oml.deposit_escrow(self.host, license_id, ETH)
        _mine(self.w3, 2)
        self.service.mirror.poll_once()
        with TestClient(create_app(service=self.service)) as http:
            host = PermissionClient(http)
            host.sign_in(bytes.fromhex(self.host[2:]), "host", license_id)
            host.permissions(license_id, [secrets.token_bytes(32) for _ in range(n)])
            return license_id, host.sign_voucher(license_id)

    def row(self, license_id) -> License | None:
        with self.service.db.read() as session:
            return session.get(License, license_id)


@pytest.fixture
def chain(w3, deployment, anvil, database_url):
    chain = Chain(w3, deployment, anvil.private_keys, database_url)
    yield chain
    chain.service.db.dispose()


def test_license_appears_only_after_the_confirmation_depth(chain):
    license_id = chain.acquire()
    mirror = chain.service.mirror
    assert mirror.poll_once() == 0 and chain.row(license_id) is None
    _mine(chain.w3, 2)
    assert mirror.poll_once() == 1
    row = chain.row(license_id)
    assert (row.host, row.status, row.quota, row.price_per_query, row.model_id) == (
        _addr(chain.host), "active", DEMO_TERMS.quota, DEMO_TERMS.price_per_query, chain.model_id)
    assert row.expires_at == chain.oml.license(license_id)["expiresAt"]
    assert mirror.poll_once() == 0  # nothing new, nothing applied twice


def test_exit_and_slash_events_stop_sigma(chain):
    license_id = chain.acquire(escrow=ETH)
    _mine(chain.w3, 2)
    with TestClient(create_app(service=chain.service)) as http:
        chain.service.mirror.poll_once()
        host = PermissionClient(http)
        host.sign_in(bytes.fromhex(chain.host[2:]), "host", license_id)
        host.permission(license_id, secrets.token_bytes(32))
        chain.oml.request_exit(chain.host, license_id)
        _mine(chain.w3, 2)
        chain.service.mirror.poll_once()
        with pytest.raises(ServiceError) as info:
            host.permission(license_id, secrets.token_bytes(32))
        assert (info.value.status, info.value.code) == (403, "license_exiting")


def test_restart_resumes_from_the_persisted_cursor(chain):
    first = chain.acquire()
    _mine(chain.w3, 2)
    assert chain.service.mirror.poll_once() == 1
    cursor = chain.service.mirror.cursor_block()
    chain.service.stop()
    second = chain.acquire()
    _mine(chain.w3, 2)
    chain.service = chain.build()  # a restarted process on the same database
    assert chain.service.mirror.cursor_block() == cursor
    assert chain.service.mirror.poll_once() == 1  # only the new license
    assert chain.row(first) is not None and chain.row(second) is not None


def test_reorg_shallower_than_confirmations_never_reaches_the_database(chain):
    snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]
    license_id = chain.acquire()
    _mine(chain.w3, 1)
    assert chain.service.mirror.poll_once() == 0  # 1 confirmation < 2
    assert chain.w3.provider.make_request("evm_revert", [snapshot])["result"]
    _mine(chain.w3, 4)  # the other branch: no license
    assert chain.service.mirror.poll_once() == 0
    assert chain.row(license_id) is None


def _snapshot(w3) -> str:
    return w3.provider.make_request("evm_snapshot", [])["result"]


def _revert(w3, snapshot: str) -> None:
    assert w3.provider.make_request("evm_revert", [snapshot])["result"]


def test_a_deep_reorg_that_drops_a_license_orphans_it_until_the_chain_shows_it_again(chain):
    chain.service.mirror.confirmations = 0
    fork = _snapshot(chain.w3)
    license_id = chain.acquire(escrow=ETH)
    assert chain.service.mirror.poll_once() == 2
    with TestClient(create_app(service=chain.service)) as http:
        host = PermissionClient(http)
        host.sign_in(bytes.fromhex(chain.host[2:]), "host", license_id)
        assert host.permission(license_id, secrets.token_bytes(32))["sequence"] == 1
        _revert(chain.w3, fork)
        _mine(chain.w3, 3)  # the other branch: no license
        chain.service.mirror.poll_once()
        assert not chain.service.mirror.reorg_detected
        with pytest.raises(ServiceError) as info:
            host.permission(license_id, secrets.token_bytes(32))
        assert (info.value.status, info.value.code) == (403, "license_orphaned")
        assert chain.acquire(escrow=ETH) == license_id  # the id comes back on this branch
        assert chain.service.mirror.poll_once() == 2
        assert chain.row(license_id).status == "active"
        assert host.permission(license_id, secrets.token_bytes(32))["sequence"] == 2  # never reused


def test_a_deep_reorg_that_drops_an_exit_makes_the_license_active_again(chain):
    chain.service.mirror.confirmations = 0
    license_id = chain.acquire()
    chain.service.mirror.poll_once()
    fork = _snapshot(chain.w3)
    chain.oml.request_exit(chain.host, license_id)
    chain.service.mirror.poll_once()
    assert chain.row(license_id).status == "exiting"
    _revert(chain.w3, fork)
    _mine(chain.w3, 3)
    chain.service.mirror.poll_once()
    row = chain.row(license_id)
    assert (row.status, row.host) == ("active", _addr(chain.host))


def test_a_reorg_deeper_than_the_journal_stops_the_mirror(chain, monkeypatch):
    from services.permission import mirror as mirror_module

    monkeypatch.setattr(mirror_module, "HISTORY_BLOCKS", 2)
    chain.service.mirror.confirmations = 0
    chain.service.mirror.poll_once()
    fork = _snapshot(chain.w3)
    for _ in range(3):  # chunks the journal prunes as it moves on
        chain.acquire()
        chain.service.mirror.poll_once()
    _revert(chain.w3, fork)
    _mine(chain.w3, 8)
    with pytest.raises(DeepReorg):
        chain.service.mirror.poll_once()
    assert chain.service.mirror.reorg_detected


def test_sigma_refutes_on_chain_and_voucher_settles(chain, anvil):
    license_id = chain.acquire()
    chain.oml.deposit_escrow(chain.host, license_id, ETH)
    _mine(chain.w3, 2)
    chain.service.mirror.poll_once()
    with TestClient(create_app(service=chain.service)) as http:
        host = PermissionClient(http)
        host.sign_in(bytes.fromhex(chain.host[2:]), "host", license_id)
        sigmas = host.permissions(license_id, [secrets.token_bytes(32) for _ in range(5)])
        for body in sigmas:  # the contract computes the same digest and recovers the signer
            sigma = permission_of(body)
            digest = chain.oml.claims.functions.permissionDigest(
                sigma.license_id, sigma.query_hash, sigma.sequence, sigma.issued_at).call()
            assert td.recover_signer(digest, bytes.fromhex(body["signature"][2:])) == _addr(chain.signer)
        voucher = host.sign_voucher(license_id)
    receipt = settle_voucher(chain.w3, chain.deployment, anvil.private_keys[5], voucher)  # anyone
    settled = chain.oml.event(chain.oml.usage, "VoucherSettled", receipt)
    assert settled["cumulativeQueries"] == 5
    assert settled["paid"] == 5 * DEMO_TERMS.price_per_query
    assert "0x" + settled["usageRoot"].hex() == voucher["usage_root"]


def test_verifiers_sign_in_against_the_verifier_registry(chain, anvil):
    verifier_key = anvil.private_keys[6]
    with TestClient(create_app(service=chain.service)) as http:
        with pytest.raises(ServiceError) as info:
            PermissionClient(http).sign_in(bytes.fromhex(verifier_key[2:]), "verifier")
        assert info.value.code == "not_active_verifier"
        chain.oml.join_verifier(verifier_key, ETH)
        with pytest.raises(ServiceError) as info:  # joined, but its stake does not count yet
            PermissionClient(http).sign_in(bytes.fromhex(verifier_key[2:]), "verifier")
        assert info.value.code == "not_active_verifier"
        delay = chain.oml.verifiers.functions.config().call()[2]
        advance_time(chain.w3, delay)
        chain.oml.activate_verifier(verifier_key, chain.oml.sender(verifier_key).address)
        token = PermissionClient(http).sign_in(bytes.fromhex(verifier_key[2:]), "verifier")
        assert (token["role"], token["license_id"]) == ("verifier", None)


def test_cli_settles_a_voucher_file(chain, anvil, tmp_path):
    import json

    from typer.testing import CliRunner

    from services.permission.cli import app as cli

    _, voucher = chain.used_and_vouched(3)
    (tmp_path / "voucher.json").write_text(json.dumps(voucher))
    chain.deployment.save(tmp_path / "deployment.json")
    result = CliRunner().invoke(cli, [
        "settle", "--voucher", str(tmp_path / "voucher.json"), "--private-key", anvil.private_keys[7],
        "--deployment", str(tmp_path / "deployment.json"), "--rpc-url", anvil.url])
    assert result.exit_code == 0, result.output
    assert "settled license" in result.output
    settled = chain.oml.usage.functions.accruedRevenue(chain.model_id).call()
    assert settled == 3 * DEMO_TERMS.price_per_query


def test_slash_and_commitment_events_are_applied(chain):
    """StakeSlashed comes only from a full claim (ClaimManager.execute): applied here directly."""
    from services.permission.mirror import _Event

    license_id = chain.acquire()
    root = secrets.token_bytes(32)
    chain.oml.set_fingerprint_commitment(chain.admin, license_id, root, secrets.token_bytes(32))
    _mine(chain.w3, 2)
    assert chain.service.mirror.poll_once() == 2
    assert chain.row(license_id).fingerprint_root == root
    with chain.service.db.write() as session:
        chain.service.mirror._apply(session, _Event("StakeSlashed", 0, 0, {
            "licenseId": license_id, "amount": 10 * ETH, "remaining": 10 * ETH}, {}))
    row = chain.row(license_id)
    assert (row.slashed, row.stake, row.status) == (True, 10 * ETH, "active")


def test_after_the_signer_is_replaced_the_last_voucher_is_resigned_and_settles(chain):
    """The old key signed a voucher that was never settled; the admin revokes that key (a leak) and
    the service restarts with the new one: the voucher it hands out now is the new key's, and the
    chain takes it (the old signature would revert UsageSettlement__NotPermissionSigner)."""
    license_id, old = chain.used_and_vouched(2)
    assert old["signer"] == _addr(chain.signer)
    new_key = secrets.token_bytes(32)
    chain.oml.revoke_signer(chain.admin, chain.model_id, _addr(new_key))
    chain.service.stop()
    chain.signer = new_key
    chain.service = chain.build()
    with TestClient(create_app(service=chain.service)) as http:
        host = PermissionClient(http)
        host.sign_in(bytes.fromhex(chain.host[2:]), "host", license_id)
        latest = host.latest_voucher(license_id)
    assert latest["signer"] == _addr(new_key) and latest["signature"] != old["signature"]
    assert (latest["cumulative_queries"], latest["usage_root"]) == (old["cumulative_queries"], old["usage_root"])
    voucher = td.UsageVoucher(license_id, old["cumulative_queries"], int(old["cumulative_fee"]),
                              bytes.fromhex(old["usage_root"][2:]))
    with pytest.raises(TransactionFailed) as stale:
        chain.oml.settle(chain.host, voucher, bytes.fromhex(old["signature"][2:]))
    assert stale.value.error_name == "UsageSettlement__NotPermissionSigner"
    chain.oml.settle(chain.host, voucher, bytes.fromhex(latest["signature"][2:]))
    assert chain.oml.usage.functions.accruedRevenue(chain.model_id).call() == 2 * DEMO_TERMS.price_per_query
