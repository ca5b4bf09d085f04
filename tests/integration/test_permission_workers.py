"""`oml permission serve --workers 2`: two HTTP worker processes and the one σ writer process
behind them hand out every sequence number once, none skipped, whichever worker answered."""
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from services.permission import testing
from services.permission.client import PermissionClient


def test_two_workers_issue_gap_free_sequences(tmp_path):
    database_url = f"sqlite:///{tmp_path}/permission.db"
    host = secrets.token_bytes(32)
    testing.seed_license(database_url, host)
    with testing.PermissionProcess(database_url, secrets.token_bytes(32), tmp_path / "server.log", workers=2) as server:
        token = PermissionClient(httpx.Client(base_url=server.url, timeout=30)).sign_in(host, "host", 1)["token"]

        def burst(_):
            with httpx.Client(base_url=server.url, timeout=30) as http:  # its own connection
                client = PermissionClient(http, token)
                return [client.permission(1, secrets.token_bytes(32))["sequence"] for _ in range(25)]

        with ThreadPoolExecutor(8) as pool:
            sequences = sorted(s for got in pool.map(burst, range(8)) for s in got)
        assert _spawned(server.process.pid) == 3  # 2 workers + the σ writer
    assert sequences == list(range(1, 201))


def _spawned(pid: int) -> int:
    """Processes the supervisor spawned (multiprocessing's resource tracker is not one)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum("spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace") for c in children)
