"""σ issuance through the API: signatures, sequences, refusals (SQLite and PostgreSQL)."""
from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from permission_helpers import START, Keys, seed_license
from sqlalchemy import select

from oml_core import typed_data as td
from services.permission.client import PermissionClient, ServiceError, permission_of
from services.permission.db.models import License, PermissionRecord
from services.permission.errors import Refused


def q() -> bytes:
    return secrets.token_bytes(32)


def test_single_sigma_is_signed_by_the_signer_in_the_claim_manager_domain(host, service, keys):
    query = q()
    body = host.permission(1, query)
    assert (body["license_id"], body["query_hash"], body["sequence"], body["issued_at"]) == (
        1, "0x" + query.hex(), 1, START)
    sigma = permission_of(body)
    signature = bytes.fromhex(body["signature"][2:])
    assert td.recover_signer(sigma.digest(service.signer.permission_domain), signature) == \
        Keys.address(keys.signer) == body["signer"]
    assert body["leaf"] == "0x" + td.permission_usage_leaf(sigma).hex()


def test_sequences_are_gap_free_across_single_and_batch(host, service):
    first = host.permission(1, q())
    batch = host.permissions(1, [q() for _ in range(10)])
    last = host.permission(1, q())
    assert [first["sequence"], *(b["sequence"] for b in batch), last["sequence"]] == list(range(1, 13))
    with service.db.read() as session:
        stored = session.execute(select(PermissionRecord.sequence).where(PermissionRecord.license_id == 1)
                                 .order_by(PermissionRecord.sequence)).scalars().all()
        assert stored == list(range(1, 13))
        assert session.get(License, 1).issued == 12


def test_concurrent_requests_never_share_or_skip_a_sequence(host):
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: host.permission(1, q())["sequence"], range(120)))
    assert sorted(results) == list(range(1, 121))


def test_same_query_twice_gets_two_sigmas(host):
    query = q()
    assert [host.permission(1, query)["sequence"] for _ in range(2)] == [1, 2]


@pytest.mark.parametrize("hash_", ["0x1234", "ab" * 32, "0x" + "zz" * 32, "0x" + "ab" * 33, "", None, 5])
def test_malformed_hashes_are_422(host, hash_):
    response = host.http.post("/v1/permissions", json={"license_id": 1, "query_hash": hash_},
                              headers={"Authorization": f"Bearer {host.token}"})
    assert response.status_code == 422


def test_oversized_and_empty_batches_are_refused(host):
    with pytest.raises(ServiceError) as info:
        host.permissions(1, [q() for _ in range(65)])
    assert (info.value.status, info.value.code) == (413, "batch_too_large")
    with pytest.raises(ServiceError) as info:
        host.permissions(1, [])
    assert info.value.status == 422


def test_quota_is_enforced_all_or_nothing(http, licensed, keys):
    other = PermissionClient(http)
    other.sign_in(keys.other_host, "host", 2)
    other.permissions(2, [q() for _ in range(3)])
    with pytest.raises(ServiceError) as info:
        other.permissions(2, [q() for _ in range(3)])  # 3 + 3 > quota 5: none issued
    assert (info.value.status, info.value.code) == (403, "quota_exceeded")
    assert other.permissions(2, [q(), q()])[-1]["sequence"] == 5
    with pytest.raises(ServiceError) as info:
        other.permission(2, q())
    assert info.value.code == "quota_exceeded"


@pytest.mark.parametrize("change, code", [
    ({"status": "exiting"}, "license_exiting"),
    ({"status": "exited"}, "license_exited"),
    ({"slashed": True}, "license_slashed"),
    ({"expires_at": START}, "license_expired"),
])
def test_licenses_that_may_not_serve_are_refused(host, service, change, code):
    host.permission(1, q())
    with service.db.write() as session:
        row = session.get(License, 1)
        for k, v in change.items():
            setattr(row, k, v)
    with pytest.raises(ServiceError) as info:
        host.permission(1, q())
    assert (info.value.status, info.value.code) == (403, code)
    with service.db.read() as session:
        assert session.get(License, 1).issued == 1  # a refusal spends nothing


def test_wrong_license_for_token_is_403(host):
    with pytest.raises(ServiceError) as info:
        host.permission(2, q())
    assert (info.value.status, info.value.code) == (403, "wrong_license")
    with pytest.raises(ServiceError) as info:
        host.permission(99, q())
    assert info.value.code == "wrong_license"


def test_unknown_license_is_404_at_sign_in(http, licensed, keys):
    with pytest.raises(ServiceError) as info:
        PermissionClient(http).sign_in(keys.host, "host", 77)
    assert (info.value.status, info.value.code) == (404, "unknown_license")


def test_license_deleted_under_a_token_is_404_not_500(host, service, keys):
    seed_license(service, 3, keys.host)
    host.sign_in(keys.host, "host", 3)
    with service.db.write() as session:
        session.delete(session.get(License, 3))
    with pytest.raises(ServiceError) as info:
        host.permission(3, q())
    assert (info.value.status, info.value.code) == (404, "unknown_license")


def test_group_commits_keep_each_license_gap_free(http, licensed, keys, service):
    """Requests of two licenses interleaved in the same writer transactions."""
    seed_license(service, 3, keys.other_host)
    a, b = PermissionClient(http), PermissionClient(http)
    a.sign_in(keys.host, "host", 1)
    b.sign_in(keys.other_host, "host", 3)
    jobs = [(a, 1)] * 40 + [(b, 3)] * 40

    def issue(job):
        client, license_id = job
        return license_id, client.permission(license_id, q())["sequence"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(issue, jobs))
    for license_id in (1, 3):
        assert sorted(s for lic, s in results if lic == license_id) == list(range(1, 41))


def test_a_refused_request_does_not_fail_its_group(service, keys):
    """Writer-level: one request over quota, one fine, in the same group commit."""
    seed_license(service, 1, keys.host)
    seed_license(service, 2, keys.other_host, quota=1)
    service.writer.start()
    try:
        futures = [service.writer.submit(2, [q(), q()]), service.writer.submit(1, [q()]),
                   service.writer.submit(2, [q()])]
        with pytest.raises(Refused) as info:
            futures[0].result(timeout=10)
        assert info.value.code == "quota_exceeded"
        assert futures[1].result(timeout=10)[0].sequence == 1
        assert futures[2].result(timeout=10)[0].sequence == 1
    finally:
        service.writer.stop()


def test_two_replicas_on_one_database_share_one_gap_free_sequence(database_url, keys, clock):
    """Two service instances (own engines, own writers), as replicas behind a load balancer:
    the license row lock (PostgreSQL) / write lock (SQLite) keeps one sequence for both."""
    from concurrent.futures import wait

    from permission_helpers import make_settings

    from services.permission.service import build_service

    replicas = [build_service(make_settings(database_url), private_key=keys.signer, clock=clock)
                for _ in range(2)]
    seed_license(replicas[0], 1, keys.host)
    for replica in replicas:
        replica.writer.start()
    try:
        futures = [replicas[i % 2].writer.submit(1, [q() for _ in range(1 + i % 3)]) for i in range(120)]
        wait(futures, timeout=60)
        sequences = [p.sequence for f in futures for p in f.result()]
    finally:
        for replica in replicas:
            replica.stop()
    assert sorted(sequences) == list(range(1, len(sequences) + 1))
