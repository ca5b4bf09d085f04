"""Settle signed vouchers on chain: anyone may send one (UsageSettlement pays only the part not
settled before, from the license's escrow and, beyond it, from the license's stake, into the
model's revenue).

`ExitSettler` settles each license's final voucher once its host has asked to exit, then closes
its usage account: the chain mirror tells it of every ExitRequested after the chunk holding it has
committed, and a worker thread signs a voucher over every σ the license was issued (none can be
added once the license is exiting), sends `settle` with the configured settler key, then signs a
`UsageClosure` over that count and sends `close`. The host can take its stake back at the end of
the unbonding only once its account is closed (or a second unbonding later), so no host leaves
with fees unpaid. It is idempotent (it asks the chain what is settled and closed first, and a
voucher someone else settled meanwhile counts as done), retries with backoff until it succeeds,
and picks up after a restart every exiting license. Without a settler key it only logs a WARNING
per exit: someone must then settle and close, or the host waits the second unbonding.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from oml_core import typed_data as td
from oml_core.chain.errors import TransactionFailed
from oml_core.contracts import OMLContracts
from services.permission import metrics
from services.permission.client import closure_of, voucher_of
from services.permission.db.models import License

log = logging.getLogger(__name__)


class VoucherMismatch(ValueError):
    pass


def settle_voucher(w3, deployment, sender_key: str, voucher_body: dict):
    """Send `UsageSettlement.settle` for a voucher as the service returns it; returns the receipt."""
    _check_domain(deployment, voucher_body)
    voucher, signature = voucher_of(voucher_body)
    return OMLContracts(w3, deployment).settle(sender_key, voucher, signature)


def close_usage(w3, deployment, sender_key: str, closure_body: dict):
    """Send `UsageSettlement.close` for a closure as the service returns it; returns the receipt."""
    _check_domain(deployment, closure_body)
    closure, signature = closure_of(closure_body)
    return OMLContracts(w3, deployment).close_usage(sender_key, closure, signature)


def _check_domain(deployment, body: dict) -> None:
    if int(body["chain_id"]) != deployment.chain_id or \
            body["verifying_contract"].lower() != deployment.address("UsageSettlement").lower():
        raise VoucherMismatch("it was signed for another chain or UsageSettlement contract")


class ExitSettler:
    """Settles the final voucher of every license whose host asked to exit (see the module doc)."""

    def __init__(self, db, books, w3, deployment, settler_key: str | None = None,
                 retry_initial_s: float = 2.0, retry_max_s: float = 120.0,
                 clock: Callable[[], float] = time.monotonic):
        self.db, self.books, self.key = db, books, settler_key
        self.oml = OMLContracts(w3, deployment)
        self.retry_initial_s, self.retry_max_s, self.clock = retry_initial_s, retry_max_s, clock
        self._pending: dict[int, tuple[float, int]] = {}  # license -> (next try, failed attempts)
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.key is not None

    # ------------------------------------------------------------------ the mirror's listener

    def exit_requested(self, license_id: int, unbond_at: int) -> None:
        """ExitRequested was applied (its chunk committed): queue the final voucher, or warn."""
        if self.enabled:
            self.enqueue(license_id)
            return
        issued, settled = self._usage(license_id)
        if issued > settled:
            log.warning("license %d requested exit with %d σ issued and %d settled, and no settler key is "
                        "configured (OML_PERMISSION_SETTLER_KEY): its last voucher must be settled before its "
                        "unbonding ends at %d, or the host withdraws the stake that should pay its fees",
                        license_id, issued, settled, unbond_at)
        else:
            log.warning("license %d requested exit with all of its %d σ settled, and no settler key is configured "
                        "(OML_PERMISSION_SETTLER_KEY): nobody closes its usage account, so its host waits a second "
                        "unbonding period after %d to withdraw", license_id, issued, unbond_at)

    def enqueue(self, license_id: int) -> None:
        with self._wake:
            if license_id not in self._pending:
                self._pending[license_id] = (0.0, 0)
            self._wake.notify()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._stopping = False
        for license_id in self._unsettled_exits():  # exits seen before a restart
            self.enqueue(license_id)
        self._thread = threading.Thread(target=self._run, name="exit-settler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def pending(self) -> list[int]:
        with self._wake:
            return sorted(self._pending)

    # ------------------------------------------------------------------ settling

    def finish_license(self, license_id: int) -> str:
        """Settles what is left of an exiting license's usage, then closes its account. Returns
        "settled" (a voucher was settled and the account closed), "closed" (only closed), or
        "nothing" (it was closed already)."""
        if self.oml.usage_closed(license_id):
            return "nothing"
        settled = self.settle_license(license_id)
        issued, _ = self._usage(license_id)
        count = self.oml.usage_account(license_id)[0]
        if count < issued:
            raise RuntimeError(f"license {license_id} has {issued} σ issued but {count} settled on chain")
        closure = td.UsageClosure(license_id, count)
        try:
            self.oml.close_usage(self.key, closure, self.books.signer.sign_closure(closure))
        except TransactionFailed as exc:
            if exc.error_name == "UsageSettlement__AccountClosed":  # someone closed it meanwhile
                return settled
            raise
        log.info("closed license %d's usage account at %d σ: its host may withdraw after the unbonding",
                 license_id, count)
        return "settled" if settled == "settled" else "closed"

    def settle_license(self, license_id: int) -> str:
        """Settles every σ of the license not settled on chain yet. Returns "settled", or
        "nothing" when there is nothing to settle (none issued, or all settled already)."""
        issued, _ = self._usage(license_id)
        if not issued:
            return "nothing"
        settled_queries = self.oml.usage_account(license_id)[0]
        if settled_queries >= issued:
            return "nothing"
        voucher = self.books.sign_voucher(license_id)  # over every σ issued, by the current signer
        if voucher.cumulative_queries <= settled_queries:
            return "nothing"
        message = td.UsageVoucher(voucher.license_id, voucher.cumulative_queries, voucher.cumulative_fee,
                                  bytes(voucher.usage_root))
        try:
            receipt = self.oml.settle(self.key, message, bytes(voucher.signature))
        except TransactionFailed as exc:
            if exc.error_name == "UsageSettlement__VoucherNotNewer":  # someone settled it meanwhile
                return "nothing"
            raise
        log.info("settled license %d's final voucher: %d σ, %d wei in all, tx 0x%s", license_id,
                 message.cumulative_queries, message.cumulative_fee, bytes(receipt["transactionHash"]).hex())
        return "settled"

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                now = self.clock()
                due = [lid for lid, (at, _) in self._pending.items() if at <= now]
                if not due:
                    wait = min((at for at, _ in self._pending.values()), default=now + 60.0) - now
                    self._wake.wait(timeout=max(wait, 0.01))
                    continue
            for license_id in due:
                self._attempt(license_id)

    def _attempt(self, license_id: int) -> None:
        try:
            outcome = self.finish_license(license_id)
        except Exception as exc:  # noqa: BLE001 - RPC, gas, a rotated signer: retry with backoff
            with self._wake:
                attempts = self._pending.get(license_id, (0.0, 0))[1] + 1
                delay = min(self.retry_max_s, self.retry_initial_s * 2 ** (attempts - 1))
                self._pending[license_id] = (self.clock() + delay, attempts)
            metrics.EXIT_SETTLEMENTS.inc("failed")
            level = logging.ERROR if attempts >= 5 else logging.WARNING
            log.log(level, "settling license %d's final voucher failed (attempt %d, next in %.0f s): %s: %s",
                    license_id, attempts, delay, type(exc).__name__, exc)
            return
        with self._wake:
            self._pending.pop(license_id, None)
        metrics.EXIT_SETTLEMENTS.inc(outcome)

    # ------------------------------------------------------------------ the books

    def _usage(self, license_id: int) -> tuple[int, int]:
        """(σ issued, σ settled on chain as the mirror last saw it)."""
        with self.db.read() as session:
            row = session.get(License, license_id)
            return (0, 0) if row is None else (int(row.issued or 0), int(row.settled_queries or 0))

    def _unsettled_exits(self) -> list[int]:
        """Every exiting license: finish_license asks the chain whether it is closed already."""
        with self.db.read() as session:
            return list(session.execute(
                select(License.license_id).where(License.status == "exiting")).scalars())
