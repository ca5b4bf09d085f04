"""Crash test of the permission service: a real `oml permission serve` (uvicorn) on loopback,
a client firing a burst of σ requests, the server SIGKILLed mid-burst and restarted. Every σ the
client received must be in the database and in the next voucher; no sequence is used twice and
none is skipped. Runs on SQLite and on PostgreSQL, with one process and with `--workers 2` (two
HTTP workers and the σ writer process, all SIGKILLed at once)."""
from __future__ import annotations

import secrets
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from oml_core import typed_data as td
from oml_core.merkle import AppendMerkleTree, verify
from services.common.database import Database
from services.permission import testing
from services.permission.client import PermissionClient, ServiceError, permission_of
from services.permission.db.models import PermissionRecord


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    with testing.database_url(request.param, tmp_path) as url:
        yield url


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_burst_loses_no_received_sigma_and_reuses_no_sequence(database_url, tmp_path, workers):
    signer, host_key = secrets.token_bytes(32), secrets.token_bytes(32)
    testing.seed_license(database_url, host_key)
    db = Database(database_url)
    server = testing.PermissionProcess(database_url, signer, tmp_path / "server.log", workers=workers)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            token = PermissionClient(http).sign_in(host_key, "host", 1)["token"]

        received: list[dict] = []
        lock, stop = threading.Lock(), threading.Event()

        def burst(worker: int) -> None:
            with httpx.Client(base_url=server.url, timeout=10) as http:
                client = PermissionClient(http, token)
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        if i % 4 == 0:
                            got = client.permissions(1, [secrets.token_bytes(32) for _ in range(8)])
                        else:
                            got = [client.permission(1, secrets.token_bytes(32))]
                    except (httpx.HTTPError, ServiceError):
                        return  # the server died: what we did not receive, we may not count on
                    with lock:
                        received.extend(got)

        threads = [threading.Thread(target=burst, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        while len(received) < 150:  # kill while requests are surely in flight
            time.sleep(0.01)
        server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert len(received) >= 150

        server.start()  # same database, fresh process
        sequences = [r["sequence"] for r in received]
        assert len(sequences) == len(set(sequences)), "a sequence was handed out twice"
        with db.read() as session:
            stored = {r.sequence: r for r in session.execute(
                select(PermissionRecord).where(PermissionRecord.license_id == 1)).scalars()}
        assert sorted(stored) == list(range(1, len(stored) + 1)), "sequences have a gap"
        print(f"received {len(received)} σ before SIGKILL; {len(stored)} committed")
        for body in received:
            row = stored[body["sequence"]]
            assert "0x" + row.query_hash.hex() == body["query_hash"]
            assert "0x" + row.signature.hex() == body["signature"]

        with httpx.Client(base_url=server.url, timeout=30) as http:
            client = PermissionClient(http, token)  # tokens survive the restart
            after = client.permission(1, secrets.token_bytes(32))
            assert after["sequence"] == len(stored) + 1  # the counter resumed where the DB was
            voucher = client.sign_voucher(1)
            assert voucher["cumulative_queries"] == len(stored) + 1
            root = bytes.fromhex(voucher["usage_root"][2:])
            leaves = [stored[n].leaf for n in sorted(stored)] + [bytes.fromhex(after["leaf"][2:])]
            assert AppendMerkleTree(leaves).root == root  # so every received σ (all stored) is in it
            for body in received[:: max(1, len(received) // 40)] + received[-5:]:
                proof = client.proof(1, body["sequence"])
                leaf = td.permission_usage_leaf(permission_of(body))
                assert verify([bytes.fromhex(p[2:]) for p in proof["proof"]], root, leaf)
    finally:
        server.kill()
        db.dispose()
