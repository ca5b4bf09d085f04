"""License state changes, as the chain mirror applies them (and as tests seed them).

Each function is idempotent: applying an event twice leaves the same row, so a replay after a
crash between eth_getLogs and COMMIT cannot double-count (the cursor moves in the same
transaction anyway)."""
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
                            price_per_query=price_per_query, issued=0))
    elif row.status == ORPHANED:
        row.model_id, row.host, row.status, row.slashed, row.stake = model_id, host, "active", False, stake
        row.expires_at, row.quota, row.price_per_query, row.fingerprint_root = expires_at, quota, price_per_query, None
    session.flush()


# A license whose LicenseAcquired a deep reorg dropped: refused (403 license_orphaned) until the
# chain shows it again.
ORPHANED = "orphaned"
# What the mirror writes (everything but the σ counter `issued`): what a reorg rollback restores.
MIRRORED_FIELDS = ("model_id", "host", "status", "slashed", "stake", "expires_at", "quota",
                   "price_per_query", "fingerprint_root")
_UINT256_FIELDS = ("model_id", "stake", "price_per_query")  # beyond JSON's safe integers: strings


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
    else:
        values = json.loads(before)
        values["fingerprint_root"] = bytes.fromhex(values["fingerprint_root"]) if values["fingerprint_root"] else None
        for name in _UINT256_FIELDS:
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
