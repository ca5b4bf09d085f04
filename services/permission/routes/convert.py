"""Database rows -> response bodies."""
from __future__ import annotations

from services.permission.schemas import PermissionOut, VoucherOut, hex0x


def permission_out(record, signer: str) -> PermissionOut:
    return PermissionOut(license_id=record.license_id, query_hash=hex0x(record.query_hash),
                         sequence=record.sequence, issued_at=record.issued_at, epoch=record.epoch,
                         signature=hex0x(record.signature), signer=signer, leaf=hex0x(record.leaf))


def voucher_out(voucher, signer) -> VoucherOut:
    return VoucherOut(license_id=voucher.license_id, cumulative_queries=voucher.cumulative_queries,
                      cumulative_fee=voucher.cumulative_fee, usage_root=hex0x(voucher.usage_root),
                      signature=hex0x(voucher.signature), signer=signer.address,
                      verifying_contract=signer.voucher_domain.verifying_contract,
                      chain_id=signer.voucher_domain.chain_id)
