"""The claim watcher: a host that served every query with σ cannot be slashed, provided it
answers claims in time. It scans ClaimManager's ClaimOpened events for its license (from a block
cursor kept in the ledger), and for each open UNPERMITTED_USE or LEAK claim whose query it holds a
σ for (its ledger first, else the permission service), it refutes on chain before the deadline
and then has the attesters penalized. Each step reads the claim's on-chain status first, so a
restart or a retry never repeats a transaction that already went through.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from oml_core import typed_data as td
from oml_core.chain.errors import TransactionFailed
from oml_core.contracts import OMLContracts, OpenedClaim
from services.host.ledger import DONE, FAILED, REFUTED, UNREFUTABLE, ClaimState, Ledger
from services.permission.client import permission_of

log = logging.getLogger(__name__)

REFUTABLE_KINDS = (td.ClaimKind.UNPERMITTED_USE, td.ClaimKind.LEAK)
MAX_ATTEMPTS = 3  # reverted transactions per claim before the watcher gives up on it


def _hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


class ClaimWatcher:
    def __init__(self, oml: OMLContracts, ledger: Ledger, license_id: int, host_key: str,
                 lookup: Callable[[bytes], dict | None] | None = None, interval_s: float = 2.0,
                 chunk_blocks: int = 2_000):
        self.oml, self.ledger, self.license_id, self.host_key = oml, ledger, license_id, host_key
        self.lookup, self.interval_s, self.chunk_blocks = lookup, interval_s, chunk_blocks
        self.cursor_name = f"claims:{license_id}"
        self._claims: dict[int, OpenedClaim] = {}
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
            except Exception as exc:  # noqa: BLE001 - RPC or service trouble: try again next round
                log.warning("claim watcher: %s: %s (retrying)", type(exc).__name__, exc)
            self._stop.wait(self.interval_s)

    # ------------------------------------------------------------------ one round

    def poll_once(self) -> None:
        self.scan()
        for claim in self.ledger.open_claims():
            self.handle(claim)

    def scan(self) -> None:
        """Records new refutable claims against this license, advancing the persisted cursor."""
        start = self.ledger.cursor(self.cursor_name)
        start = self.oml.deployment.block_number if start is None else start
        head = self.oml.w3.eth.block_number
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
        """Moves one claim on by its on-chain status; transient errors propagate (retry later)."""
        try:
            self._advance(claim)
        except TransactionFailed as exc:
            attempts = claim.attempts + 1
            self.ledger.update_claim(claim.claim_id, attempts=attempts, last_error=str(exc),
                                     **({"state": FAILED} if attempts >= MAX_ATTEMPTS else {}))
            log.warning("claim %d: %s (attempt %d)", claim.claim_id, exc, attempts)

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
            self.ledger.update_claim(claim.claim_id, state=FAILED, last_error="executed before it was refuted")

    def _refute(self, claim: ClaimState) -> bool:
        now = self.oml.w3.eth.get_block("latest")["timestamp"]
        if now >= claim.deadline:
            self.ledger.update_claim(claim.claim_id, state=FAILED, last_error="challenge window over")
            return False
        body = self.ledger.permission_for(self.license_id, claim.query_hash)
        if body is None and self.lookup is not None:
            body = self.lookup(claim.query_hash)  # raises while the service is unreachable: retried
        if body is None:
            self.ledger.update_claim(claim.claim_id, state=UNREFUTABLE,
                                     last_error="no σ for this query: it was served without permission")
            log.warning("claim %d: no σ for query %s", claim.claim_id, _hex(claim.query_hash))
            return False
        signature = bytes.fromhex(body["signature"].removeprefix("0x"))
        receipt = self.oml.refute(self.host_key, self._opened(claim), permission_of(body), signature)
        self.ledger.update_claim(claim.claim_id, state=REFUTED, refute_tx=_hex(receipt["transactionHash"]))
        log.info("claim %d refuted with σ #%s", claim.claim_id, body["sequence"])
        return True
