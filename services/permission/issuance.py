"""σ issuance with group commit.

Request handlers hand (license, query hashes) to one writer thread per process. The writer
takes whatever requests are waiting (up to `group_commit_max`) and serves them all in one
database transaction: per license (in ascending id order, so two replicas on PostgreSQL never
deadlock) it locks the license row (SELECT ... FOR UPDATE; on SQLite the transaction is BEGIN
IMMEDIATE, i.e. holds the database write lock), checks the license, hands out the next sequence
numbers, signs and inserts σ. Futures are completed only after COMMIT returns, so a σ a client
holds is always durable, and a crash before COMMIT loses both the σ and its sequence numbers:
sequences stay gap-free and are never used twice.

Fees: every σ costs the license's pricePerQuery, and the σ a license holds may never cost more
than the fee budget known on chain (the UsageSettlement escrow deposits less withdrawals, as the
chain mirror saw them, confirmations deep). A request that would cross the budget is refused as a
whole (402 `escrow_exhausted`, saying how many σ the budget has left): a batch is all or nothing,
like its sequence numbers. Requests served in one group are taken in arrival order, each against
what the ones before it left.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from oml_core import typed_data as td
from services.common.database import Database
from services.permission import metrics
from services.permission.db.models import License, PermissionRecord, fee_budget
from services.permission.errors import Refused, unknown_license
from services.permission.signer import Signer

log = logging.getLogger(__name__)
WRITER_TIMEOUT_S = 30.0
_LICENSES = License.__table__
_PERMISSIONS = PermissionRecord.__table__


@dataclass(frozen=True)
class Issued:
    """One σ as signed and stored."""

    license_id: int
    query_hash: bytes
    sequence: int
    issued_at: int
    epoch: int
    signature: bytes
    leaf: bytes


@dataclass
class _Request:
    license_id: int
    query_hashes: list[bytes]
    future: Future


def check_license(row: License | None, license_id: int, now: int) -> License:
    """The refusals that depend on the license's mirrored state."""
    if row is None:
        raise unknown_license(license_id)
    if row.slashed:
        raise Refused(403, "license_slashed", f"license {license_id} has been slashed")
    if row.status != "active":
        raise Refused(403, f"license_{row.status}", f"license {license_id} is {row.status}, not active")
    if row.expires_at <= now:
        raise Refused(403, "license_expired", f"license {license_id} expired at {row.expires_at}")
    return row


def check_budget(row, license_id: int, issued_before: int, asked: int) -> None:
    """Refuses σ whose fees would exceed the license's escrow deposits less its withdrawals.

    `issued_before` σ are already issued; (issued_before + asked) × price must stay within the
    budget. Settled vouchers take their fees out of the deposits (or, beyond the escrow, out of
    the stake), so comparing the cumulative fees with the cumulative deposits is exact."""
    price = int(row.price_per_query or 0)
    if not price:
        return
    budget = fee_budget(row.escrow_deposited, row.escrow_withdrawn)
    if (issued_before + asked) * price > budget:
        left = max(0, budget // price - issued_before)
        raise Refused(402, "escrow_exhausted",
                      f"license {license_id}'s escrow covers {budget // price} σ at {price} wei "
                      f"({budget} wei deposited less withdrawn); {issued_before} issued, {left} left, "
                      f"asked for {asked}: deposit more escrow (UsageSettlement.depositEscrow) and retry "
                      f"once the deposit is confirmed")


def expire(waiter: asyncio.Future) -> None:
    """A request's wait for the writer ran out (the σ may still commit later)."""
    if not waiter.done():
        waiter.set_exception(Refused(503, "writer_timeout", "σ could not be stored in time; retry"))


async def await_future(future: Future, timeout: float = WRITER_TIMEOUT_S):
    """The writer's outcome, awaited on the running loop.

    The writer's future is never cancelled from here: a client that hangs up (or a timeout)
    only drops its waiter, while the σ may still commit. One callback from the writer thread
    wakes the loop; no task or thread per request.
    """
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def relay(source: Future) -> None:  # on the loop
        if waiter.done():  # timed out, or the client hung up
            return
        exc = source.exception()
        if exc is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(source.result())

    future.add_done_callback(lambda f: loop.call_soon_threadsafe(relay, f))
    timer = loop.call_later(timeout, expire, waiter)
    try:
        return await waiter
    finally:
        timer.cancel()


class PermissionWriter:
    def __init__(self, db: Database, signer: Signer, epoch_seconds: int, group_max: int = 512,
                 clock: Callable[[], float] = time.time):
        self.db, self.signer, self.epoch_seconds = db, signer, epoch_seconds
        self.group_max, self.clock = group_max, clock
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return  # already running (the app's lifespan and a test may both start it)
        self._thread = threading.Thread(target=self._run, name="permission-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, license_id: int, query_hashes: list[bytes]) -> Future:
        """A future of list[Issued], completed after the transaction holding them commits."""
        future: Future = Future()
        if self._thread is None:
            future.set_exception(Refused(503, "not_ready", "the permission writer is not running"))
            return future
        self._queue.put(_Request(license_id, query_hashes, future))
        return future

    async def issue(self, license_id: int, query_hashes: list[bytes]) -> list[Issued]:
        """The σ for `query_hashes`, once stored (what the routes await)."""
        return await await_future(self.submit(license_id, query_hashes))

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stopping = False
            while len(group) < self.group_max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                group.append(nxt)
            try:
                self._serve(group)
            except Exception as exc:  # never let the writer die: every later request would hang
                log.exception("σ writer failed on a group")
                for request in group:
                    if not request.future.done():
                        request.future.set_exception(Refused(503, "writer_error", type(exc).__name__))
            if stopping:
                return

    def _serve(self, group: list[_Request]) -> None:
        started = time.perf_counter()
        results: list[tuple[_Request, list[Issued]]] = []
        try:
            with self.db.write() as session:
                results = self._issue(session, group)
        except Exception as exc:  # the whole group failed to commit: nobody got a σ
            log.exception("σ group commit failed")
            for request in group:
                if not request.future.done():
                    request.future.set_exception(
                        Refused(503, "storage_unavailable", f"could not store σ: {type(exc).__name__}"))
            return
        metrics.GROUP_COMMITS.inc()
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
        for request, issued in results:
            metrics.PERMISSIONS_ISSUED.inc(len(issued))
            request.future.set_result(issued)

    def _issue(self, session, group: list[_Request]) -> list[tuple[_Request, list[Issued]]]:
        now = int(self.clock())
        epoch = now // self.epoch_seconds
        by_license: dict[int, list[_Request]] = {}
        for request in group:
            by_license.setdefault(request.license_id, []).append(request)
        results, rows = [], []
        for license_id in sorted(by_license):
            # Core rather than ORM statements: the writer serializes every σ, so per-group
            # overhead counts. The row has the License attributes check_license reads.
            row = session.execute(
                select(_LICENSES.c.license_id, _LICENSES.c.status, _LICENSES.c.slashed,
                       _LICENSES.c.expires_at, _LICENSES.c.quota, _LICENSES.c.issued,
                       _LICENSES.c.price_per_query, _LICENSES.c.escrow_deposited, _LICENSES.c.escrow_withdrawn)
                .where(_LICENSES.c.license_id == license_id).with_for_update()
            ).one_or_none()
            issued_before = row.issued if row is not None else 0
            next_sequence = issued_before
            for request in by_license[license_id]:
                try:
                    check_license(row, license_id, now)
                    n = len(request.query_hashes)
                    if row.quota and next_sequence + n > row.quota:
                        raise Refused(403, "quota_exceeded",
                                      f"license {license_id} has {row.quota - next_sequence} of "
                                      f"{row.quota} queries left, asked for {n}")
                    check_budget(row, license_id, next_sequence, n)
                except Refused as refusal:
                    metrics.REFUSALS.inc(refusal.code)
                    request.future.set_exception(refusal)
                    continue
                issued = []
                for query_hash in request.query_hashes:
                    next_sequence += 1
                    permission = td.Permission(license_id, query_hash, next_sequence, now)
                    issued.append(Issued(license_id, query_hash, next_sequence, now, epoch,
                                         self.signer.sign_permission(permission),
                                         td.permission_usage_leaf(permission)))
                rows.extend(issued)
                results.append((request, issued))
            if next_sequence != issued_before:
                session.execute(update(_LICENSES).where(_LICENSES.c.license_id == license_id)
                                .values(issued=next_sequence))
        if rows:
            session.execute(insert(_PERMISSIONS), [
                {"license_id": i.license_id, "sequence": i.sequence, "query_hash": i.query_hash,
                 "issued_at": i.issued_at, "epoch": i.epoch, "signature": i.signature, "leaf": i.leaf}
                for i in rows])
        return results
