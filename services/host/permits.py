"""σ(q) for the gateway: a signed-in permission client and a batcher in front of it.

Concurrent requests wait together for a few milliseconds (or until `max_batch` have arrived)
and share ONE `POST /v1/permissions/batch` call; each waiter gets its own σ body. Every σ is
written to the host's ledger before any waiter is released, so a σ that reached an answer is a
σ the host can later show on chain.
"""
from __future__ import annotations

import asyncio
import threading

import httpx
from eth_account import Account

from services.host.ledger import Ledger
from services.permission.client import PermissionClient, ServiceError


class PermissionRefused(Exception):
    """The permission service said no (license slashed, exiting, expired, over quota, not ours)."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


class PermissionUnavailable(Exception):
    """The permission service could not be reached or failed (5xx)."""


class PermissionSource:
    """PermissionClient signed in as the license's host; signs in again when a token expires."""

    def __init__(self, base_url: str, host_key: bytes, license_id: int, timeout_s: float = 30.0,
                 http: httpx.Client | None = None):
        self.license_id, self._key = license_id, host_key
        self.address = Account.from_key(host_key).address
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout_s)
        self.client = PermissionClient(self._http)
        self._sign_in_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def _sign_in(self, stale_token: str | None) -> None:
        with self._sign_in_lock:
            if self.client.token == stale_token:  # another thread may have signed in meanwhile
                self.client.sign_in(self._key, "host", self.license_id)

    def _call(self, action):
        try:
            if self.client.token is None:
                self._sign_in(None)
            token = self.client.token
            try:
                return action()
            except ServiceError as exc:
                if exc.status != 401:
                    raise
                self._sign_in(token)  # expired or revoked token: one fresh sign-in, one retry
                return action()
        except ServiceError as exc:
            if exc.status >= 500:
                raise PermissionUnavailable(f"permission service error {exc.status} {exc.code}: {exc.detail}") from None
            raise PermissionRefused(exc.code, exc.detail) from None
        except httpx.HTTPError as exc:
            raise PermissionUnavailable(f"permission service unreachable: {type(exc).__name__}: {exc}") from None

    def permissions(self, query_hashes: list[bytes]) -> list[dict]:
        """One σ body per hash, in order (one batch call)."""
        bodies = self._call(lambda: self.client.permissions(self.license_id, query_hashes))
        if len(bodies) != len(query_hashes) or any(
                b["query_hash"].lower() != "0x" + q.hex() for b, q in zip(bodies, query_hashes)):
            raise PermissionUnavailable("permission service answered for other queries than asked")
        return bodies

    def lookup(self, query_hash: bytes) -> dict | None:
        """The first σ the service holds for this query under our license; None when it has none."""
        try:
            found = self._call(lambda: self.client.lookup(self.license_id, query_hash))
        except PermissionRefused as exc:
            if exc.code == "no_permission":
                return None
            raise
        permissions = found.get("permissions") or []
        return permissions[0] if permissions else None


class PermissionBatcher:
    """Collects σ requests on the event loop and resolves them from one batch call each."""

    def __init__(self, source: PermissionSource, ledger: Ledger, window_s: float = 0.005, max_batch: int = 64):
        if window_s < 0 or max_batch < 1:
            raise ValueError("window_s must be >= 0 and max_batch >= 1")
        self.source, self.ledger = source, ledger
        self.window_s, self.max_batch = window_s, max_batch
        self._pending: list[tuple[bytes, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        self.batch_calls = 0      # batch calls made to the permission service
        self.permissions = 0      # σ received

    async def permit(self, query_hash: bytes) -> dict:
        """σ body for `query_hash`; PermissionRefused / PermissionUnavailable otherwise."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._pending.append((query_hash, waiter))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.window_s, self._flush)
        return await waiter

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._tasks.add(task)  # keep a reference until it finishes
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[bytes, asyncio.Future]]) -> None:
        self.batch_calls += 1
        try:
            bodies = await asyncio.to_thread(self._fetch_and_record, [q for q, _ in batch])
        except Exception as exc:  # noqa: BLE001 - every waiter must hear the outcome
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        self.permissions += len(bodies)
        for (_, waiter), body in zip(batch, bodies):
            if not waiter.done():  # a client that hung up dropped its waiter; its σ stays recorded
                waiter.set_result(body)

    def _fetch_and_record(self, query_hashes: list[bytes]) -> list[dict]:
        bodies = self.source.permissions(query_hashes)
        self.ledger.record_permissions(bodies)
        return bodies
