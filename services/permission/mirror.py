"""License state mirrored from LicenseManager and UsageSettlement events.

The mirror polls eth_getLogs (both contracts in one query) up to `head - confirmations`, so reorgs
shallower than the confirmation depth never reach the database. Each chunk of blocks is applied in
one transaction together with the cursor (last applied block number and hash): a crash either
applies a chunk and moves the cursor, or does neither, so restarts neither lose nor double-apply
events; the transaction first checks that the cursor is still where the chunk starts (another
replica may have applied it meanwhile), so a chunk is applied exactly once. UsageSettlement's
escrow deposits and withdrawals give each license its fee budget (σ beyond it are refused), and
its VoucherSettled the usage settled so far. A reorg deeper than the confirmation depth shows up
as the cursor block's hash changing. Each applied chunk is journaled with its last block's hash and, for every license it changed,
the row as it was before; the mirror then finds the newest chunk still on the chain, undoes the
newer ones (license rows whose LicenseAcquired is gone become `orphaned`, never deleted: σ may
exist under them), moves the cursor back and applies the new branch's events. Only a reorg
deeper than the kept history (HISTORY_BLOCKS) stops the mirror (`reorg_detected`) for an operator.

After a chunk commits (never inside its transaction) the mirror tells `on_exit` of every
ExitRequested it applied: the service then settles the license's final voucher (settle.py).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import event_abi_to_log_topic, to_checksum_address
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from web3 import Web3

from services.common.database import Database
from services.permission import licenses, metrics
from services.permission.db.models import ChainCursor, MirroredChunk, MirrorUndo

log = logging.getLogger(__name__)

CURSOR = "license_manager"  # the name predates the UsageSettlement events, which share the cursor
EVENTS = ("LicenseAcquired", "StakeAdded", "FingerprintCommitmentSet", "ExitRequested",
          "StakeWithdrawn", "StakeSlashed", "FeesCollected")
USAGE_EVENTS = ("EscrowDeposited", "EscrowWithdrawn", "VoucherSettled")


HISTORY_BLOCKS = 10_000  # journal kept behind the confirmed head: deeper reorgs need an operator


class DeepReorg(RuntimeError):
    pass


class _CursorMoved(Exception):
    """Another replica applied the chunk (or a rollback moved the cursor) since it was read."""


@dataclass(frozen=True)
class _Event:
    name: str
    block: int
    log_index: int
    args: dict[str, Any]
    extra: dict[str, Any]  # state read from chain for LicenseAcquired (quota, price)


class ChainMirror:
    def __init__(self, db: Database, w3: Web3, deployment, confirmations: int = 2,
                 poll_interval: float = 2.0, chunk_blocks: int = 2_000,
                 on_block_time: Callable[[int], None] | None = None,
                 on_exit: Callable[[int, int], None] | None = None):
        """`on_block_time` hears the timestamp of each chunk's last block before the chunk is
        applied: the service's clock, so that no σ for a license is stamped before it began.
        `on_exit(license_id, unbond_at)` hears each ExitRequested once its chunk has committed."""
        self.db, self.w3, self.deployment = db, w3, deployment
        self.on_block_time, self.on_exit = on_block_time, on_exit
        self.confirmations, self.poll_interval, self.chunk_blocks = confirmations, poll_interval, chunk_blocks
        self.licenses = deployment.contract(w3, "LicenseManager")
        self.usage = deployment.contract(w3, "UsageSettlement")
        self.registry = deployment.contract(w3, "ModelRegistry")
        self._by_topic = {}  # (contract address, topic) -> event decoder
        for contract, names in ((self.licenses, EVENTS), (self.usage, USAGE_EVENTS)):
            for entry in contract.abi:
                if entry.get("type") == "event" and entry["name"] in names:
                    self._by_topic[(contract.address.lower(), event_abi_to_log_topic(entry))] = \
                        getattr(contract.events, entry["name"])()
        self.reorg_detected = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ cursor

    def cursor_block(self) -> int | None:
        with self.db.read() as session:
            cursor = session.get(ChainCursor, CURSOR)
            return None if cursor is None else cursor.block_number

    def _block(self, number: int) -> dict | None:
        return self.w3.provider.make_request("eth_getBlockByNumber", [hex(number), False]).get("result")

    def _block_hash(self, number: int) -> bytes | None:
        block = self._block(number)
        return None if block is None else bytes.fromhex(block["hash"][2:])

    # ------------------------------------------------------------------ polling

    def poll_once(self) -> int:
        """Apply every confirmed block not applied yet; returns how many events were applied."""
        metrics.MIRROR_POLLS.inc()
        safe = self.w3.eth.block_number - self.confirmations
        with self.db.read() as session:
            cursor = session.get(ChainCursor, CURSOR)
            if cursor is not None:
                cursor = (cursor.block_number, cursor.block_hash)
        if cursor is not None and self._block_hash(cursor[0]) != cursor[1]:
            cursor = self._roll_back(cursor[0])
        if cursor is not None:
            start = cursor[0] + 1
        else:
            start = self.deployment.block_number
        applied = 0
        while start <= safe:
            end = min(safe, start + self.chunk_blocks - 1)
            events = self._fetch(start, end)
            end_block = self._block(end)
            end_hash = None if end_block is None else bytes.fromhex(end_block["hash"][2:])
            if end_block is not None and self.on_block_time is not None:
                self.on_block_time(int(end_block["timestamp"], 16))
            try:
                self._apply_chunk(start, end, end_hash, events, None if cursor is None else cursor[0])
            except (IntegrityError, _CursorMoved):  # another replica (or worker) applied this chunk first
                log.debug("chunk %d-%d already applied elsewhere", start, end)
                return applied
            cursor = (end, end_hash)
            for event in events:
                metrics.CHAIN_EVENTS.inc(event.name)
            applied += len(events)
            start = end + 1
            self._announce_exits(events)
        return applied

    def _announce_exits(self, events: list[_Event]) -> None:
        """After the chunk committed: each ExitRequested to `on_exit` (which must not block)."""
        if self.on_exit is None:
            return
        for event in events:
            if event.name == "ExitRequested":
                try:
                    self.on_exit(event.args["licenseId"], event.args["unbondAt"])
                except Exception:  # the chunk is applied whatever the listener does
                    log.exception("exit listener failed for license %s", event.args["licenseId"])

    def _apply_chunk(self, start: int, end: int, end_hash: bytes, events: list[_Event],
                     expected_cursor: int | None) -> None:
        """One transaction: the undo rows, the events, the journal entry and the cursor; applied
        only if the cursor is still at `expected_cursor` (None: no cursor yet)."""
        with self.db.write() as session:
            current = session.execute(select(ChainCursor.block_number).where(ChainCursor.name == CURSOR)
                                      .with_for_update()).scalar_one_or_none()
            if current != expected_cursor:
                raise _CursorMoved(f"cursor at {current}, expected {expected_cursor}")
            for license_id in dict.fromkeys(e.args["licenseId"] for e in events):
                session.add(MirrorUndo(end_block=end, license_id=license_id,
                                       before=licenses.snapshot(session, license_id)))
            for event in events:
                self._apply(session, event)
            session.add(MirroredChunk(end_block=end, start_block=start, block_hash=end_hash))
            session.execute(delete(MirroredChunk).where(MirroredChunk.end_block < end - HISTORY_BLOCKS))
            session.execute(delete(MirrorUndo).where(MirrorUndo.end_block < end - HISTORY_BLOCKS))
            self._set_cursor(session, end, end_hash)

    @staticmethod
    def _set_cursor(session, number: int, block_hash: bytes) -> None:
        row = session.get(ChainCursor, CURSOR)
        if row is None:
            session.add(ChainCursor(name=CURSOR, block_number=number, block_hash=block_hash))
        else:
            row.block_number, row.block_hash = number, block_hash

    def _roll_back(self, changed: int) -> tuple[int, bytes] | None:
        """Undoes the journaled chunks a deep reorg dropped; returns the new cursor (None: back to
        the deployment block). Raises DeepReorg when the fork is older than the journal."""
        with self.db.read() as session:
            chunks = list(session.execute(select(MirroredChunk.end_block, MirroredChunk.block_hash,
                                                 MirroredChunk.start_block)
                                          .order_by(MirroredChunk.end_block.desc())).all())
        ancestor = next(((n, h) for n, h, _ in chunks if self._block_hash(n) == h), None)
        # With no chunk left on the chain, undoing them all is right only if the journal still
        # starts at the deployment block (nothing older was pruned).
        whole = bool(chunks) and chunks[-1][2] == self.deployment.block_number
        if ancestor is None and not whole:
            self.reorg_detected = True
            raise DeepReorg(f"block {changed} changed after it was applied, and no journaled block is still on "
                            f"the chain: the reorg is deeper than the mirror's history; it needs attention")
        keep = ancestor[0] if ancestor else -1
        with self.db.write() as session:
            undo = session.execute(select(MirrorUndo).where(MirrorUndo.end_block > keep)
                                   .order_by(MirrorUndo.end_block.desc())).scalars().all()
            for entry in undo:  # newest first: each license ends as it was after block `keep`
                licenses.restore(session, entry.license_id, entry.before)
            session.execute(delete(MirrorUndo).where(MirrorUndo.end_block > keep))
            session.execute(delete(MirroredChunk).where(MirroredChunk.end_block > keep))
            if ancestor is None:
                session.execute(delete(ChainCursor).where(ChainCursor.name == CURSOR))
            else:
                self._set_cursor(session, *ancestor)
        metrics.MIRROR_ROLLBACKS.inc()
        log.warning("reorg deeper than %d confirmations: rolled the license mirror back from block %d to %s "
                    "(%d license changes undone)", self.confirmations, changed,
                    ancestor[0] if ancestor else "the deployment", len(undo))
        return ancestor

    def _fetch(self, start: int, end: int) -> list[_Event]:
        logs = self.w3.eth.get_logs({"address": [self.licenses.address, self.usage.address],
                                     "fromBlock": start, "toBlock": end})
        events = []
        for entry in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
            key = (str(entry["address"]).lower(), bytes(entry["topics"][0])) if entry["topics"] else None
            decoder = self._by_topic.get(key)
            if decoder is None:
                continue
            decoded = decoder.process_log(entry)
            args, extra = dict(decoded["args"]), {}
            if decoded["event"] == "LicenseAcquired":
                # quota and price are not in the event. Both are fixed for the license's life (its
                # quota is copied at acquisition, a terms version never changes), so the latest
                # state is right and a pruned (non-archive) node can answer.
                _, quota, _, _ = self.licenses.functions.usageInfo(args["licenseId"]).call()
                terms = self.registry.functions.terms(args["modelId"], args["termsVersion"]).call()
                extra = {"quota": quota, "price": terms[0]}  # Terms.pricePerQuery is its first field
            events.append(_Event(decoded["event"], entry["blockNumber"], entry["logIndex"], args, extra))
        return events

    def _apply(self, session, event: _Event) -> None:
        a, license_id = event.args, event.args["licenseId"]
        if event.name == "LicenseAcquired":
            licenses.upsert_license(session, license_id, a["modelId"], to_checksum_address(a["host"]),
                                    a["expiresAt"], event.extra["quota"], event.extra["price"], a["stake"])
        elif event.name == "StakeAdded":
            licenses.set_stake(session, license_id, a["stake"])
        elif event.name == "FingerprintCommitmentSet":
            licenses.set_fingerprint_root(session, license_id, a["fingerprintRoot"])
        elif event.name == "ExitRequested":
            licenses.set_status(session, license_id, "exiting")
        elif event.name == "StakeWithdrawn":
            licenses.set_status(session, license_id, "exited")
        elif event.name == "StakeSlashed":
            licenses.mark_slashed(session, license_id, a["remaining"])
        elif event.name == "FeesCollected":  # fees a voucher owed beyond the escrow, from the stake
            licenses.set_stake(session, license_id, a["remaining"])
        elif event.name == "EscrowDeposited":
            licenses.add_escrow_deposit(session, license_id, a["amount"])
        elif event.name == "EscrowWithdrawn":
            licenses.add_escrow_withdrawal(session, license_id, a["amount"])
        elif event.name == "VoucherSettled":
            licenses.set_settled(session, license_id, a["cumulativeQueries"], a["cumulativeFee"])

    # ------------------------------------------------------------------ background thread

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="chain-mirror", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except DeepReorg as exc:
                log.error("%s", exc)
            except Exception:  # RPC hiccups: try again next round
                log.exception("chain mirror poll failed")
            self._stop.wait(self.poll_interval)
