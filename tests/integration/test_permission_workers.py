"""`oml permission serve --workers 2`: two HTTP worker processes and the one σ writer process
behind them hand out every sequence number once, none skipped, whichever worker answered."""
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from services.permission import testing
from services.permission.client import PermissionClient, ServiceError


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


def test_a_dead_writer_is_a_503_and_takes_the_whole_set_down(tmp_path):
    """Workers never hang on a writer that is gone; the supervisor exits non-zero so that a
    service manager restarts the whole set."""
    import signal
    import time

    database_url = f"sqlite:///{tmp_path}/permission.db"
    host = secrets.token_bytes(32)
    testing.seed_license(database_url, host)
    with testing.PermissionProcess(database_url, secrets.token_bytes(32), tmp_path / "server.log", workers=2) as server:
        http = httpx.Client(base_url=server.url, timeout=30)
        client = PermissionClient(http, PermissionClient(http).sign_in(host, "host", 1)["token"])
        assert client.permission(1, secrets.token_bytes(32))["sequence"] == 1
        (writer,) = [pid for pid in _spawned_pids(server.process.pid) if not _listens(pid, server.port)]
        os.kill(writer, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while server.process.poll() is None and time.monotonic() < deadline:
            try:
                client.permission(1, secrets.token_bytes(32))
                raise AssertionError("a σ was issued without the writer")
            except ServiceError as refused:
                assert (refused.status, refused.code) == (503, "writer_unavailable")
            except httpx.TransportError:
                pass  # the supervisor is taking the workers down
            time.sleep(0.05)
        assert server.process.wait(timeout=5) == 1


def _spawned_pids(pid: int) -> list[int]:
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")]


def _listens(pid: int, port: int) -> bool:
    """Whether the process holds a socket listening on the TCP port (an HTTP worker does)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
            inodes.add(fields[9])
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            held.add(os.readlink(fd))
        except OSError:
            continue
    return any(f"socket:[{inode}]" in held for inode in inodes)
