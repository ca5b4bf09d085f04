"""Answer receipts: the host gateway's signature over every answer it serves.

    {"license_id": 3, "query_hash": "0x…", "response_hash": "0x…", "served_at": 1733…,
     "permission": "0x…" (the σ's EIP-712 struct hash, or 32 zero bytes: served without σ),
     "signer": "0x…", "signature": "0x…"}

It rides in the answer's `oml` field (services/common/answer.py) and in provers' transcripts. A
receipt is what lets a claim convict: only the license's receipt signer can make one, so no
prover or owner can invent an answer the host never gave, and its `served_at` fixes the latest
time a σ may have been issued to clear the host (ClaimManager.refute).
"""
from __future__ import annotations

from oml_core import typed_data as td


def _hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


def _b32(value) -> bytes:
    raw = bytes.fromhex(str(value).removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError("expected 32 bytes")
    return raw


def permission_struct_hash(permission: dict | None) -> bytes:
    """The receipt's reference to the σ an answer was served under (NO_PERMISSION: none)."""
    if permission is None:
        return td.NO_PERMISSION
    return td.Permission(int(permission["license_id"]), _b32(permission["query_hash"]),
                         int(permission["sequence"]), int(permission["issued_at"])).struct_hash()


def receipt_body(receipt: td.AnswerReceipt, signer: str, signature: bytes) -> dict:
    return {"license_id": receipt.license_id, "query_hash": _hex(receipt.query_hash),
            "response_hash": _hex(receipt.response_hash), "served_at": receipt.served_at,
            "permission": _hex(receipt.permission), "signer": signer, "signature": _hex(signature)}


def parse_receipt(body) -> tuple[td.AnswerReceipt, bytes]:
    """(receipt, signature); ValueError when `body` is not a well-formed receipt."""
    if not isinstance(body, dict):
        raise ValueError("the answer carries no receipt")  # noqa: TRY004 - absent is a value, not a type bug
    try:
        receipt = td.AnswerReceipt(int(body["license_id"]), _b32(body["query_hash"]), _b32(body["response_hash"]),
                                   int(body["served_at"]), _b32(body["permission"]))
        signature = bytes.fromhex(str(body["signature"]).removeprefix("0x"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed receipt: {exc}") from None
    return receipt, signature


def recovered_signer(receipt: td.AnswerReceipt, signature: bytes, domain: td.Domain) -> str:
    """The address that signed `receipt` in `domain` (ValueError for a bad signature)."""
    return td.recover_signer(receipt.digest(domain), signature)
