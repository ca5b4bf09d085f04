"""License state changes, as the chain mirror applies them (and as tests seed them).

Each function is idempotent: applying an event twice leaves the same row, so a replay after a
crash between eth_getLogs and COMMIT cannot double-count (the cursor moves in the same
transaction anyway)."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from services.permission.db.models import License


def upsert_license(session: Session, license_id: int, model_id: int, host: str, expires_at: int,
                   quota: int, price_per_query: int, stake: int) -> None:
    """LicenseAcquired: a new license (an existing row keeps its σ counter and later state)."""
    row = session.get(License, license_id)
    if row is None:
        session.add(License(license_id=license_id, model_id=model_id, host=host, status="active",
                            slashed=False, stake=stake, expires_at=expires_at, quota=quota,
                            price_per_query=price_per_query, issued=0))
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
