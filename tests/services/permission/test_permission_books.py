"""Lookup, usage per epoch, vouchers and inclusion proofs, checked against oml_core."""
from __future__ import annotations

import secrets

import pytest
from permission_helpers import PRICE, START

from oml_core import typed_data as td
from oml_core.merkle import AppendMerkleTree, verify
from services.permission.client import ServiceError, permission_of, voucher_of


def test_lookup_finds_every_sigma_of_a_query(host, verifier):
    query, other = secrets.token_bytes(32), secrets.token_bytes(32)
    host.permission(1, query)
    host.permission(1, other)
    host.permission(1, query)
    found = verifier.lookup(1, query)
    assert [p["sequence"] for p in found["permissions"]] == [1, 3]
    assert host.lookup(1, other)["permissions"][0]["sequence"] == 2
    with pytest.raises(ServiceError) as info:
        verifier.lookup(1, secrets.token_bytes(32))
    assert (info.value.status, info.value.code) == (404, "no_permission")
    with pytest.raises(ServiceError) as info:
        verifier.lookup(42, query)
    assert info.value.code == "unknown_license"


def test_usage_is_counted_per_epoch(host, clock, keys):
    host.permissions(1, [secrets.token_bytes(32) for _ in range(3)])
    clock.now += 86_400
    host.sign_in(keys.host, "host", 1)  # the day-old token has expired
    host.permissions(1, [secrets.token_bytes(32) for _ in range(2)])
    usage = host.usage(1)
    epoch = START // 86_400
    assert usage["total_queries"] == 5
    assert [(e["epoch"], e["queries"], e["first_sequence"], e["last_sequence"]) for e in usage["epochs"]] == [
        (epoch, 3, 1, 3), (epoch + 1, 2, 4, 5)]
    assert host.license(1)["issued"] == 5


def test_voucher_covers_every_sigma_and_is_signed_in_the_settlement_domain(host, service, keys):
    with pytest.raises(ServiceError) as info:
        host.sign_voucher(1)
    assert (info.value.status, info.value.code) == (409, "no_usage")
    sigmas = host.permissions(1, [secrets.token_bytes(32) for _ in range(7)])
    body = host.sign_voucher(1)
    voucher, signature = voucher_of(body)
    leaves = [td.permission_usage_leaf(permission_of(s)) for s in sigmas]
    assert voucher == td.UsageVoucher(1, 7, 7 * PRICE, AppendMerkleTree(leaves).root)
    assert td.recover_signer(voucher.digest(service.signer.voucher_domain), signature) == body["signer"]
    assert host.sign_voucher(1) == body  # nothing new: the same voucher
    assert host.latest_voucher(1) == body
    host.permission(1, secrets.token_bytes(32))
    assert host.sign_voucher(1)["cumulative_queries"] == 8


def test_every_sigma_has_an_inclusion_proof_against_the_latest_voucher(host, verifier):
    sigmas = host.permissions(1, [secrets.token_bytes(32) for _ in range(13)])
    with pytest.raises(ServiceError) as info:
        verifier.proof(1, 1)
    assert info.value.code == "no_voucher"
    root = bytes.fromhex(host.sign_voucher(1)["usage_root"][2:])
    for sigma in sigmas:
        body = verifier.proof(1, sigma["sequence"])
        proof = [bytes.fromhex(p[2:]) for p in body["proof"]]
        assert verify(proof, root, td.permission_usage_leaf(permission_of(body["permission"])))
    host.permission(1, secrets.token_bytes(32))
    with pytest.raises(ServiceError) as info:
        verifier.proof(1, 14)
    assert (info.value.status, info.value.code) == (409, "not_yet_vouched")
    with pytest.raises(ServiceError) as info:
        verifier.proof(1, 99)
    assert (info.value.status, info.value.code) == (404, "unknown_permission")


def test_health_and_metrics_are_open(http, host):
    host.permission(1, secrets.token_bytes(32))
    assert http.get("/healthz").json()["status"] == "ok"
    text = http.get("/metrics").text
    assert "# TYPE oml_permissions_issued_total counter" in text
    assert "oml_permissions_issued_total " in text
    assert http.get("/openapi.json").json()["paths"]["/v1/permissions"]


def test_proofs_against_an_older_voucher(host, verifier):
    host.permissions(1, [secrets.token_bytes(32) for _ in range(4)])
    old_root = bytes.fromhex(host.sign_voucher(1)["usage_root"][2:])
    host.permissions(1, [secrets.token_bytes(32) for _ in range(3)])
    host.sign_voucher(1)
    body = verifier.proof(1, 2, voucher=4)
    assert body["voucher"]["cumulative_queries"] == 4
    leaf = td.permission_usage_leaf(permission_of(body["permission"]))
    assert verify([bytes.fromhex(p[2:]) for p in body["proof"]], old_root, leaf)
    with pytest.raises(ServiceError) as info:
        verifier.proof(1, 6, voucher=4)
    assert info.value.code == "not_yet_vouched"
    with pytest.raises(ServiceError) as info:
        verifier.proof(1, 1, voucher=5)
    assert (info.value.status, info.value.code) == (404, "no_voucher")


def test_a_cold_process_vouches_and_proves_what_a_warm_one_extended(host, service, clock):
    """The usage tree grows in place per process: a replica that builds it from the database in
    one go must reach the same voucher root and the same proofs."""
    from services.permission.books import Books

    host.permissions(1, [secrets.token_bytes(32) for _ in range(5)])
    first = host.sign_voucher(1)  # the warm tree: 5 σ
    host.permissions(1, [secrets.token_bytes(32) for _ in range(6)])
    warm = service.books.sign_voucher(1)  # extended by 6
    cold = Books(service.db, service.signer, clock)
    assert cold.sign_voucher(1).usage_root == warm.usage_root
    assert warm.cumulative_queries == 11
    for sequence in (1, 5, 6, 11):
        assert cold.proof(1, sequence).proof == service.books.proof(1, sequence).proof
    assert cold.proof(1, 3, 5).proof == service.books.proof(1, 3, 5).proof
    assert "0x" + cold.proof(1, 3, 5).voucher.usage_root.hex() == first["usage_root"]
