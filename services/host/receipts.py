"""The gateway's answer receipts: every answer it serves is signed with the license's receipt
key (services/common/receipt.py). The gateway stamps `served_at` when it took the query (right
after σ came), and never earlier than the σ was issued, so its receipts always let that σ refute
a claim; stamping at acceptance rather than after generation also keeps an answer that was being
generated while the signer key was revoked within what that key's σ still clear.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from coincurve import PrivateKey
from eth_account import Account

from oml_core import typed_data as td
from services.common.receipt import permission_struct_hash, receipt_body


class ReceiptSigner:
    def __init__(self, license_id: int, key: bytes, domain: td.Domain, clock: Callable[[], float] = time.time):
        self.license_id, self.domain, self.clock = license_id, domain, clock
        self._key = PrivateKey(key)
        self.address = Account.from_key(key).address

    def stamp(self, permission: dict | None) -> int:
        """The serving time of a query taken now under `permission` (or none)."""
        served_at = int(self.clock())
        return max(served_at, int(permission["issued_at"])) if permission is not None else served_at

    def sign(self, query_hash: bytes, text: str, permission: dict | None, served_at: int | None = None) -> dict:
        """The receipt of answer `text` to the query `query_hash`, served under `permission` (or none)
        at `served_at` (default: now)."""
        if served_at is None:
            served_at = self.stamp(permission)
        receipt = td.AnswerReceipt(self.license_id, query_hash, td.response_hash(text), served_at,
                                   permission_struct_hash(permission))
        return receipt_body(receipt, self.address, td.sign_digest(receipt.digest(self.domain), self._key))
