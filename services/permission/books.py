"""The books: σ lookup, usage per epoch, cumulative vouchers and Merkle inclusion proofs.

A voucher for N queries covers σ with sequence 1..N. Sequences are gap-free and committed in
order per license (issuance.py), so the σ rows a single SELECT sees form such a prefix. The usage
tree keeps σ in sequence order (oml_core.merkle.AppendMerkleTree): each process keeps the latest
tree of recently vouched licenses and only appends the σ issued since, so a voucher costs what is
new rather than a rebuild over every σ of the license.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from oml_core import typed_data as td
from oml_core.merkle import AppendMerkleTree, TreePrefix
from services.common.database import Database
from services.permission import metrics
from services.permission.db.models import License, PermissionRecord, Voucher
from services.permission.errors import Refused, unknown_license
from services.permission.signer import Signer


@dataclass(frozen=True)
class Proof:
    record: PermissionRecord
    voucher: Voucher
    proof: list[bytes]


class _UsageTrees:
    """Per license, the usage tree over every σ seen so far, extended in place (recently used
    licenses only: a tree of n σ holds about 150 bytes per σ)."""

    def __init__(self, size: int = 16):
        self._trees: OrderedDict[int, tuple[threading.Lock, AppendMerkleTree]] = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def prefix(self, license_id: int, n: int, newer: Callable[[int], list[tuple[int, bytes]]]) -> TreePrefix:
        """The tree of the license's first n σ, after appending `newer(size)`: (sequence, leaf) of
        every σ after the first `size`, in sequence order."""
        with self._lock:
            if license_id not in self._trees:
                self._trees[license_id] = (threading.Lock(), AppendMerkleTree())
            self._trees.move_to_end(license_id)
            while len(self._trees) > self._size:
                self._trees.popitem(last=False)
            lock, tree = self._trees[license_id]
        with lock:
            for sequence, leaf in newer(len(tree)):
                if sequence != len(tree) + 1:  # never expected: sequences are gap-free
                    raise RuntimeError(f"license {license_id}: σ #{sequence} follows #{len(tree)}")
                tree.append(leaf)
            if n > len(tree):
                raise RuntimeError(f"license {license_id}: {n} σ vouched for, {len(tree)} stored")
            return tree.prefix(n)  # valid however the tree grows later


class Books:
    def __init__(self, db: Database, signer: Signer, clock: Callable[[], float] = time.time):
        self.db, self.signer, self.clock = db, signer, clock
        self._trees = _UsageTrees()

    def license(self, license_id: int) -> License:
        with self.db.read() as session:
            row = session.get(License, license_id)
        if row is None:
            raise unknown_license(license_id)
        return row

    def lookup(self, license_id: int, query_hash: bytes) -> list[PermissionRecord]:
        with self.db.read() as session:
            return list(session.execute(
                select(PermissionRecord)
                .where(PermissionRecord.license_id == license_id, PermissionRecord.query_hash == query_hash)
                .order_by(PermissionRecord.sequence)).scalars())

    def usage(self, license_id: int) -> list[tuple[int, int, int, int]]:
        """(epoch, queries, first sequence, last sequence) per epoch, in epoch order."""
        with self.db.read() as session:
            rows = session.execute(
                select(PermissionRecord.epoch, func.count(), func.min(PermissionRecord.sequence),
                       func.max(PermissionRecord.sequence))
                .where(PermissionRecord.license_id == license_id)
                .group_by(PermissionRecord.epoch).order_by(PermissionRecord.epoch)).all()
        return [tuple(int(v) for v in row) for row in rows]

    def _usage_tree(self, session, license_id: int, n: int) -> TreePrefix | None:
        """The tree of the license's first n σ; None for n = 0."""
        if not n:
            return None

        def newer(size: int) -> list[tuple[int, bytes]]:
            return [tuple(r) for r in session.execute(
                select(PermissionRecord.sequence, PermissionRecord.leaf)
                .where(PermissionRecord.license_id == license_id, PermissionRecord.sequence > size,
                       PermissionRecord.sequence <= n)
                .order_by(PermissionRecord.sequence)).all()]

        return self._trees.prefix(license_id, n, newer)

    def latest_voucher(self, license_id: int) -> Voucher:
        with self.db.read() as session:
            voucher = session.execute(
                select(Voucher).where(Voucher.license_id == license_id)
                .order_by(Voucher.cumulative_queries.desc()).limit(1)).scalar_one_or_none()
        if voucher is None:
            self.license(license_id)  # 404 for an unknown license rather than "no voucher"
            raise Refused(404, "no_voucher", f"no voucher signed for license {license_id} yet")
        return self._by_current_signer(voucher)

    def sign_voucher(self, license_id: int) -> Voucher:
        """A voucher over every σ issued so far (the latest one again if nothing is new)."""
        with self.db.read() as session:
            row = session.get(License, license_id)
            if row is None:
                raise unknown_license(license_id)
            # `issued` is bumped in the transaction that stores the σ: it counts what is stored
            tree = self._usage_tree(session, license_id, row.issued)
            if tree is None:
                raise Refused(409, "no_usage", f"license {license_id} has no σ yet: nothing to vouch for")
            n, root = tree.size, tree.root
            existing = session.get(Voucher, (license_id, n))
        if existing is not None:
            return self._by_current_signer(existing)
        voucher = td.UsageVoucher(license_id, n, n * row.price_per_query, root)
        record = {"license_id": license_id, "cumulative_queries": n,
                  "cumulative_fee": voucher.cumulative_fee, "usage_root": root,
                  "signature": self.signer.sign_voucher(voucher), "created_at": int(self.clock())}
        try:
            with self.db.write() as session:
                session.execute(insert(Voucher).values(**record))
        except IntegrityError:
            pass  # another replica signed the same voucher first; it is the same message
        metrics.VOUCHERS_SIGNED.inc()
        with self.db.read() as session:
            return session.get(Voucher, (license_id, n))

    def voucher(self, license_id: int, cumulative_queries: int) -> Voucher:
        with self.db.read() as session:
            voucher = session.get(Voucher, (license_id, cumulative_queries))
        if voucher is None:
            raise Refused(404, "no_voucher",
                          f"no voucher for {cumulative_queries} queries of license {license_id}")
        return self._by_current_signer(voucher)

    def _by_current_signer(self, voucher: Voucher) -> Voucher:
        """`voucher`, re-signed (and stored so) when an earlier signer key signed it: after a
        rotation UsageSettlement accepts only the signer in force when `settle` runs, so an
        unsettled voucher of the old key would be worthless."""
        message = td.UsageVoucher(voucher.license_id, voucher.cumulative_queries, voucher.cumulative_fee,
                                  bytes(voucher.usage_root))
        try:
            if td.recover_signer(message.digest(self.signer.voucher_domain), bytes(voucher.signature)) \
                    == self.signer.address:
                return voucher
        except ValueError:
            pass  # unreadable: sign it again
        signature = self.signer.sign_voucher(message)
        with self.db.write() as session:
            row = session.get(Voucher, (voucher.license_id, voucher.cumulative_queries))
            row.signature = signature
        metrics.VOUCHERS_SIGNED.inc()
        with self.db.read() as session:
            return session.get(Voucher, (voucher.license_id, voucher.cumulative_queries))

    def proof(self, license_id: int, sequence: int, cumulative_queries: int | None = None) -> Proof:
        """Inclusion proof of σ #sequence against a voucher's usageRoot: the latest one, or the
        one for `cumulative_queries` (e.g. the voucher that was settled on chain)."""
        voucher = (self.latest_voucher(license_id) if cumulative_queries is None
                   else self.voucher(license_id, cumulative_queries))
        with self.db.read() as session:
            record = session.get(PermissionRecord, (license_id, sequence))
            if record is None:
                raise Refused(404, "unknown_permission", f"license {license_id} has no σ #{sequence}")
            if sequence > voucher.cumulative_queries:
                raise Refused(409, "not_yet_vouched",
                              f"σ #{sequence} is newer than the voucher "
                              f"({voucher.cumulative_queries} queries): sign a new voucher first")
            tree = self._usage_tree(session, license_id, voucher.cumulative_queries)
        if tree.root != voucher.usage_root:  # the books and the signed voucher disagree: say so
            raise RuntimeError(f"usage tree of license {license_id} does not match its voucher")
        return Proof(record, voucher, tree.proof(record.leaf))
