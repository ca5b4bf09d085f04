"""The gateway's answer receipts: every answer it serves is signed with the license's receipt
key (services/common/receipt.py). An honest gateway stamps `served_at` no earlier than the σ it
used was issued, so its receipts always let that σ refute a claim.
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

    def sign(self, query_hash: bytes, text: str, permission: dict | None) -> dict:
        """The receipt of answer `text` to the query `query_hash`, served under `permission` (or none)."""
        served_at = int(self.clock())
        if permission is not None:
            served_at = max(served_at, int(permission["issued_at"]))
        receipt = td.AnswerReceipt(self.license_id, query_hash, td.response_hash(text), served_at,
                                   permission_struct_hash(permission))
        return receipt_body(receipt, self.address, td.sign_digest(receipt.digest(self.domain), self._key))
