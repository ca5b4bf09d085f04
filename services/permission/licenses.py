"""License state changes, as the chain mirror applies them (and as tests seed them).

The LicenseManager events set absolute state (applying one twice leaves the same row); the
escrow events add up (EscrowDeposited and EscrowWithdrawn carry amounts, not totals). Either is
safe because the mirror applies each chunk exactly once: the events, the journal and the cursor
move in one transaction, which first checks that the cursor is still where the chunk starts
(mirror.py), so neither a replay after a crash nor a second replica can apply a chunk twice."""
from __future__ import annotations

import json

from sqlalchemy import update
from sqlalchemy.orm import Session

from services.permission.db.models import License


def upsert_license(session: Session, license_id: int, model_id: int, host: str, expires_at: int,
                   quota: int, price_per_query: int, stake: int) -> None:
    """LicenseAcquired: a new license (an existing row keeps its σ counter and later state).

    An orphaned row (its LicenseAcquired was dropped by a deep reorg, and the id may now belong to
    another host) takes the new license's state but keeps its σ counter: sequence numbers of a
    license id are never reused."""
    row = session.get(License, license_id)
    if row is None:
        session.add(License(license_id=license_id, model_id=model_id, host=host, status="active",
                            slashed=False, stake=stake, expires_at=expires_at, quota=quota,
                            price_per_query=price_per_query, issued=0, escrow_deposited=0,
                            escrow_withdrawn=0, settled_queries=0, settled_fee=0))
    elif row.status == ORPHANED:
        row.model_id, row.host, row.status, row.slashed, row.stake = model_id, host, "active", False, stake
        row.expires_at, row.quota, row.price_per_query, row.fingerprint_root = expires_at, quota, price_per_query, None
        _clear_fees(row)
    session.flush()


def _clear_fees(row: License) -> None:
    """A license id new on this branch of the chain starts without escrow or settled usage."""
    row.escrow_deposited = row.escrow_withdrawn = row.settled_queries = row.settled_fee = 0


# A license whose LicenseAcquired a deep reorg dropped: refused (403 license_orphaned) until the
# chain shows it again.
ORPHANED = "orphaned"
# What the mirror writes (everything but the σ counter `issued`): what a reorg rollback restores.
MIRRORED_FIELDS = ("model_id", "host", "status", "slashed", "stake", "expires_at", "quota",
                   "price_per_query", "fingerprint_root", "escrow_deposited", "escrow_withdrawn",
                   "settled_queries", "settled_fee")
# beyond JSON's safe integers: strings
_UINT256_FIELDS = ("model_id", "stake", "price_per_query", "escrow_deposited", "escrow_withdrawn", "settled_fee")


def snapshot(session: Session, license_id: int) -> str | None:
    """The row's mirrored fields as JSON (big integers as strings), or None if there is no row."""
    row = session.get(License, license_id)
    if row is None:
        return None
    values = {f: getattr(row, f) for f in MIRRORED_FIELDS}
    values["fingerprint_root"] = values["fingerprint_root"].hex() if values["fingerprint_root"] else None
    for name in _UINT256_FIELDS:
        values[name] = str(values[name])
    return json.dumps(values)


def restore(session: Session, license_id: int, before: str | None) -> None:
    """Undo: the row's mirrored fields as `snapshot` saw them; a row that did not exist then is
    orphaned rather than deleted, since σ may have been issued under it."""
    row = session.get(License, license_id)
    if row is None:
        return
    if before is None:
        row.status = ORPHANED
        _clear_fees(row)
    else:
        values = json.loads(before)
        values["fingerprint_root"] = bytes.fromhex(values["fingerprint_root"]) if values["fingerprint_root"] else None
        for name in _UINT256_FIELDS:
            if name in values:
                values[name] = int(values[name])
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()


def set_status(session: Session, license_id: int, status: str) -> None:
    """ExitRequested -> exiting, StakeWithdrawn -> exited (status only moves forward)."""
    order = {"active": 0, "exiting": 1, "exited": 2}
    row = session.get(License, license_id)
    if row is not None and order[status] > order.get(row.status, 0):
        row.status = status
    session.flush()


def mark_slashed(session: Session, license_id: int, remaining_stake: int) -> None:
    """StakeSlashed: the license was caught; it gets no more σ."""
    session.execute(update(License).where(License.license_id == license_id)
                    .values(slashed=True, stake=remaining_stake))


def set_stake(session: Session, license_id: int, stake: int) -> None:
    session.execute(update(License).where(License.license_id == license_id).values(stake=stake))


def set_fingerprint_root(session: Session, license_id: int, root: bytes) -> None:
    session.execute(update(License).where(License.license_id == license_id)
                    .values(fingerprint_root=root))


def add_escrow_deposit(session: Session, license_id: int, amount: int) -> None:
    """EscrowDeposited: the license's fee budget grows by `amount`."""
    row = session.get(License, license_id)
    if row is not None:
        row.escrow_deposited = int(row.escrow_deposited or 0) + amount
    session.flush()


def add_escrow_withdrawal(session: Session, license_id: int, amount: int) -> None:
    """EscrowWithdrawn: the host took back what the vouchers did not spend."""
    row = session.get(License, license_id)
    if row is not None:
        row.escrow_withdrawn = int(row.escrow_withdrawn or 0) + amount
    session.flush()


def set_settled(session: Session, license_id: int, cumulative_queries: int, cumulative_fee: int) -> None:
    """VoucherSettled: the chain has settled the license's usage up to `cumulative_queries` σ."""
    row = session.get(License, license_id)
    if row is not None and cumulative_queries > (row.settled_queries or 0):
        row.settled_queries, row.settled_fee = cumulative_queries, cumulative_fee
    session.flush()
