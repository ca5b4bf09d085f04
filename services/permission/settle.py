"""Settle a signed voucher on chain: anyone may send it (UsageSettlement pays only the part not
settled before, from the license's escrow to the model's revenue)."""
from __future__ import annotations

from oml_core.contracts import OMLContracts
from services.permission.client import voucher_of


class VoucherMismatch(ValueError):
    pass


def settle_voucher(w3, deployment, sender_key: str, voucher_body: dict):
    """Send `UsageSettlement.settle` for a voucher as the service returns it; returns the receipt."""
    if int(voucher_body["chain_id"]) != deployment.chain_id or \
            voucher_body["verifying_contract"].lower() != deployment.address("UsageSettlement").lower():
        raise VoucherMismatch("the voucher was signed for another chain or UsageSettlement contract")
    voucher, signature = voucher_of(voucher_body)
    return OMLContracts(w3, deployment).settle(sender_key, voucher, signature)
