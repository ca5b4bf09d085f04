"""The claim watcher: a host that served every query with σ cannot be slashed, provided it
answers claims in time. It scans ClaimManager's ClaimOpened events for its license (from a block
cursor kept in the ledger), and for each open UNPERMITTED_USE or LEAK claim whose query it holds a
σ for (its ledger first, else the permission service), it refutes on chain before the deadline
and then has the attesters penalized. Each step reads the claim's on-chain status first, so a
restart or a retry never repeats a transaction that already went through.

A failed attempt (a reverted transaction, the node or the permission service down) is retried
with back-off until the claim's challenge window closes, and given up only then: each failure is
logged at ERROR with the time left and counted on /metrics, and the next attempt's time is kept in
the ledger, so a restart neither forgets the claim nor hammers a node that is down.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from oml_core import typed_data as td
from oml_core.contracts import OMLContracts, OpenedClaim
from services.host.ledger import DONE, FAILED, PENDING, REFUTED, UNREFUTABLE, ClaimState, Ledger
from services.host.metrics import GatewayMetrics
from services.permission.client import permission_of

log = logging.getLogger(__name__)

REFUTABLE_KINDS = (td.ClaimKind.UNPERMITTED_USE, td.ClaimKind.LEAK)


def _hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


class ClaimWatcher:
    def __init__(self, oml: OMLContracts, ledger: Ledger, license_id: int, host_key: str,
                 lookup: Callable[[bytes], dict | None] | None = None, interval_s: float = 2.0,
                 chunk_blocks: int = 2_000, retry_max_s: float = 60.0, metrics: GatewayMetrics | None = None):
        self.oml, self.ledger, self.license_id, self.host_key = oml, ledger, license_id, host_key
        self.lookup, self.interval_s, self.chunk_blocks = lookup, interval_s, chunk_blocks
        self.retry_max_s = retry_max_s
        self.metrics = metrics or GatewayMetrics()
        self.metrics.gauge("oml_host_claims_at_risk",
                           "Open claims against this license whose refute failed at least once.",
                           ledger.claims_at_risk)
        self.cursor_name = f"claims:{license_id}"
        self._claims: dict[int, OpenedClaim] = {}
        self._chain_ahead_s = 0.0  # chain time minus this machine's, as of the last block read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="oml-claim-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - the ledger itself failed: try again next round
                log.warning("claim watcher: %s: %s (retrying)", type(exc).__name__, exc)
            self._stop.wait(self.interval_s)

    # ------------------------------------------------------------------ one round

    def poll_once(self) -> None:
        try:
            self.scan()
        except Exception as exc:  # noqa: BLE001 - node trouble: the claims already known still get their try
            log.warning("claim watcher: scanning for new claims failed: %s: %s (retrying)",
                        type(exc).__name__, exc)
        for claim in self.ledger.open_claims(due_at=time.time()):
            self.handle(claim)

    def scan(self) -> None:
        """Records new refutable claims against this license, advancing the persisted cursor."""
        start = self.ledger.cursor(self.cursor_name)
        start = self.oml.deployment.block_number if start is None else start
        latest = self.oml.w3.eth.get_block("latest")
        head = latest["number"]
        self._chain_ahead_s = latest["timestamp"] - time.time()
        event = self.oml.claims.events.ClaimOpened()
        while start <= head:
            end = min(head, start + self.chunk_blocks - 1)
            for entry in event.get_logs(from_block=start, to_block=end,
                                        argument_filters={"subjectId": self.license_id}):
                if entry["args"]["kind"] in REFUTABLE_KINDS:
                    self._remember(entry["args"]["claimId"], entry["blockNumber"])
            self.ledger.set_cursor(self.cursor_name, end + 1)
            start = end + 1

    def _remember(self, claim_id: int, block: int) -> None:
        opened = self.oml.opened_claim(claim_id, from_block=block)
        self._claims[claim_id] = opened
        self.ledger.add_claim(claim_id, bytes(opened.record[9]), opened.deadline, block)
        log.info("claim %d against license %d seen (deadline %d)", claim_id, self.license_id, opened.deadline)

    def _opened(self, claim: ClaimState) -> OpenedClaim:
        if claim.claim_id not in self._claims:  # after a restart: rebuild from the event
            self._claims[claim.claim_id] = self.oml.opened_claim(claim.claim_id, from_block=claim.block)
        return self._claims[claim.claim_id]

    def handle(self, claim: ClaimState) -> None:
        """Moves one claim on by its on-chain status; a failure is tried again later."""
        try:
            self._advance(claim)
        except Exception as exc:  # noqa: BLE001 - reverted, node or permission service down: retry
            self._retry_later(claim, exc)

    def _retry_later(self, claim: ClaimState, exc: Exception) -> None:
        attempts, now = claim.attempts + 1, time.time()
        seconds_left = claim.deadline - (now + self._chain_ahead_s)
        delay = self._backoff(attempts, seconds_left)
        error = f"{type(exc).__name__}: {exc}"
        self.ledger.update_claim(claim.claim_id, attempts=attempts, last_error=error,
                                 next_attempt_at=now + delay)
        self.metrics.inc("oml_host_claim_attempts_failed_total")
        if claim.state == PENDING:  # the stake is at risk: the line an operator alerts on
            log.error("claim %d against license %d NOT REFUTED YET: attempt %d failed (%s); deadline %d, "
                      "%.0f s left, next attempt in %.1f s", claim.claim_id, self.license_id, attempts, error,
                      claim.deadline, seconds_left, delay)
        else:
            log.warning("claim %d is refuted but penalizing its attesters failed (attempt %d: %s); "
                        "next attempt in %.1f s", claim.claim_id, attempts, error, delay)

    def _backoff(self, attempts: int, seconds_left: float) -> float:
        """Doubling from the poll interval up to `retry_max_s`, but never past half the time left:
        near the deadline the attempts come closer together instead of sleeping through it."""
        delay = min(self.retry_max_s, self.interval_s * 2 ** min(attempts - 1, 16))
        return min(delay, max(self.interval_s, seconds_left / 2))

    def _advance(self, claim: ClaimState) -> None:
        status = self.oml.claim_status(claim.claim_id)
        if status == "Open":
            if not self._refute(claim):
                return
            status = "Refuted"
        if status == "Refuted":
            receipt = self.oml.penalize_attesters(self.host_key, self._opened(claim))
            self.ledger.update_claim(claim.claim_id, state=DONE, penalize_tx=_hex(receipt["transactionHash"]))
            log.info("claim %d: attesters penalized", claim.claim_id)
        elif status == "AttestersPenalized":
            self.ledger.update_claim(claim.claim_id, state=DONE)
        elif status == "Executed":
            self._give_up(claim, "executed before it was refuted")

    def _give_up(self, claim: ClaimState, reason: str) -> None:
        if claim.last_error:
            reason += f" ({claim.attempts} failed attempts, the last: {claim.last_error})"
        self.ledger.update_claim(claim.claim_id, state=FAILED, last_error=reason)
        log.error("claim %d against license %d: %s; the stake will be slashed", claim.claim_id, self.license_id,
                  reason)

    def _refute(self, claim: ClaimState) -> bool:
        now = self.oml.w3.eth.get_block("latest")["timestamp"]
        if now >= claim.deadline:
            self._give_up(claim, f"challenge window closed at {claim.deadline} before a refute went through")
            return False
        body = self.ledger.permission_for(self.license_id, claim.query_hash)
        if body is None and self.lookup is not None:
            body = self.lookup(claim.query_hash)  # raises while the service is unreachable: retried
        if body is None:
            self.ledger.update_claim(claim.claim_id, state=UNREFUTABLE,
                                     last_error="no σ for this query: it was served without permission")
            log.warning("claim %d: no σ for query %s", claim.claim_id, _hex(claim.query_hash))
            return False
        opened = self._opened(claim)
        issued_at, not_before = int(body["issued_at"]), opened.record[13]
        if not not_before <= issued_at <= opened.served_at:
            # ClaimManager.refute would revert: a σ clears only answers served after it was issued
            self.ledger.update_claim(claim.claim_id, state=UNREFUTABLE,
                                     last_error=f"σ #{body['sequence']} was issued at {issued_at}, outside "
                                                f"[{not_before}, {opened.served_at}]: the answer was served "
                                                "without permission")
            log.warning("claim %d: the σ for query %s was issued after the answer", claim.claim_id,
                        _hex(claim.query_hash))
            return False
        signature = bytes.fromhex(body["signature"].removeprefix("0x"))
        receipt = self.oml.refute(self.host_key, opened, permission_of(body), signature)
        self.ledger.update_claim(claim.claim_id, state=REFUTED, refute_tx=_hex(receipt["transactionHash"]))
        log.info("claim %d refuted with σ #%s", claim.claim_id, body["sequence"])
        return True
