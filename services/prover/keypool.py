"""The key pool: each license's fingerprints, sealed in SQLite, handed out once each.

`take` marks one unused key as used and commits that BEFORE it decrypts the key, so a crash
between taking and sending burns the key instead of ever sending it twice; concurrent takers
(threads or processes) cannot both win the same row because the mark is a conditional UPDATE.
Keys and responses are never logged; only leaves (public salted hashes) appear in errors.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import func, select, update

from oml_core import merkle
from oml_core.fingerprint.commit import Commitment
from oml_core.fingerprint.record import Fingerprint
from services.common.database import Database
from services.prover.db import KeyRecord
from services.prover.errors import FingerprintsRejected, NoKeysLeft
from services.prover.sealing import Sealer


@dataclass(frozen=True)
class TakenKey:
    """A key that is now used: the fingerprint to send and its proof against the license's root."""

    key_id: int
    license_id: int
    fingerprint: Fingerprint
    proof: list[bytes]
    root: bytes


@dataclass(frozen=True)
class LoadResult:
    added: int
    already_loaded: int
    root: bytes


def _aad(license_id: int, leaf: bytes) -> bytes:
    return f"key:{license_id}:{leaf.hex()}".encode()


class KeyPool:
    def __init__(self, db: Database, sealer: Sealer):
        self.db, self.sealer = db, sealer

    def add(self, license_id: int, fingerprints: list[Fingerprint], commitment: Commitment | None = None,
            expected_root: bytes | None = None) -> LoadResult:
        """Seal `fingerprints` for `license_id`. `commitment` is the license's full set (root and
        leaves) when the prover holds only some of its fingerprints; by default the given set is
        the full set. `expected_root` (e.g. the on-chain fingerprintRoot) must match it."""
        if not fingerprints:
            raise FingerprintsRejected("no fingerprints to load")
        commitment = commitment or Commitment.of(fingerprints)
        if expected_root is not None and commitment.root != expected_root:
            raise FingerprintsRejected(f"the fingerprints commit to root 0x{commitment.root.hex()}, "
                                       f"but license {license_id} has root 0x{expected_root.hex()}")
        leaves = set(commitment.leaves)
        strangers = [fp.leaf.hex() for fp in fingerprints if fp.leaf not in leaves]
        if strangers:
            raise FingerprintsRejected(f"{len(strangers)} fingerprint(s) are not in the commitment "
                                       f"(first leaf 0x{strangers[0]})")
        tree = merkle.MerkleTree(commitment.leaves)
        added = 0
        with self.db.write() as session:
            roots = set(session.scalars(select(KeyRecord.root).where(KeyRecord.license_id == license_id)
                                        .distinct()))
            if roots - {commitment.root}:
                raise FingerprintsRejected(f"license {license_id} already has keys under root "
                                           f"0x{roots.pop().hex()}, not 0x{commitment.root.hex()}")
            known = set(session.scalars(select(KeyRecord.leaf).where(KeyRecord.license_id == license_id)))
            for fp in fingerprints:
                if fp.leaf in known:
                    continue
                known.add(fp.leaf)
                plaintext = json.dumps(fp.to_json(), ensure_ascii=False).encode()
                session.add(KeyRecord(license_id=license_id, leaf=fp.leaf, root=commitment.root,
                                      proof=json.dumps(["0x" + p.hex() for p in tree.proof(fp.leaf)]),
                                      sealed=self.sealer.seal(plaintext, _aad(license_id, fp.leaf))))
                added += 1
        return LoadResult(added, len(fingerprints) - added, commitment.root)

    def take(self, license_id: int) -> TakenKey:
        """Marks one unused key of the license as used (committed), then decrypts and returns it."""
        while True:
            with self.db.write() as session:
                key_id = session.scalar(select(KeyRecord.id).where(KeyRecord.license_id == license_id,
                                                                   KeyRecord.used_at.is_(None))
                                        .order_by(KeyRecord.id).limit(1))
                if key_id is None:
                    raise NoKeysLeft(f"license {license_id} has no unused fingerprint keys left")
                mark = (update(KeyRecord).where(KeyRecord.id == key_id, KeyRecord.used_at.is_(None))
                        .values(used_at=time.time()))
                won = session.execute(mark).rowcount == 1
            if won:  # committed: from here on the key counts as used whatever happens next
                return self._open(key_id)

    def _open(self, key_id: int) -> TakenKey:
        with self.db.read() as session:
            row = session.get(KeyRecord, key_id)
            plaintext = self.sealer.open(row.sealed, _aad(row.license_id, row.leaf))
            fingerprint = Fingerprint.from_json(json.loads(plaintext))
            proof = [bytes.fromhex(p.removeprefix("0x")) for p in json.loads(row.proof)]
            return TakenKey(row.id, row.license_id, fingerprint, proof, row.root)

    def licenses(self) -> list[int]:
        """Licenses with unused keys, in id order."""
        with self.db.read() as session:
            return list(session.scalars(select(KeyRecord.license_id).where(KeyRecord.used_at.is_(None))
                                        .distinct().order_by(KeyRecord.license_id)))

    def remaining(self, license_id: int) -> int:
        with self.db.read() as session:
            return session.scalar(select(func.count()).select_from(KeyRecord)
                                  .where(KeyRecord.license_id == license_id, KeyRecord.used_at.is_(None)))
