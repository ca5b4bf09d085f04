"""License state, usage per epoch, vouchers and inclusion proofs."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.permission.routes.convert import permission_out, voucher_out
from services.permission.routes.deps import (
    LicenseIdPath,
    PrincipalDep,
    SequencePath,
    ServiceDep,
    require_reader,
)
from services.permission.schemas import (
    EpochUsage,
    LicenseOut,
    ProofOut,
    UsageOut,
    VoucherOut,
    hex0x,
)

router = APIRouter(prefix="/v1/licenses/{license_id}", tags=["books"])


@router.get("", response_model=LicenseOut)
def license_state(license_id: LicenseIdPath, who: PrincipalDep,
                  svc: ServiceDep) -> LicenseOut:
    """The license as mirrored from chain, and how many σ it has used."""
    require_reader(who, license_id)
    row = svc.books.license(license_id)
    return LicenseOut(license_id=row.license_id, model_id=row.model_id, host=row.host,
                      status=row.status, slashed=row.slashed, expires_at=row.expires_at,
                      quota=row.quota, price_per_query=row.price_per_query, issued=row.issued,
                      escrow_deposited=row.escrow_deposited, escrow_withdrawn=row.escrow_withdrawn,
                      fee_budget=row.fee_budget, settled_queries=row.settled_queries,
                      settled_fee=row.settled_fee)


@router.get("/usage", response_model=UsageOut)
def usage(license_id: LicenseIdPath, who: PrincipalDep,
          svc: ServiceDep) -> UsageOut:
    """σ counts per epoch (epoch = issuedAt // epoch_seconds)."""
    require_reader(who, license_id)
    svc.books.license(license_id)
    epochs = [EpochUsage(epoch=e, queries=n, first_sequence=a, last_sequence=b)
              for e, n, a, b in svc.books.usage(license_id)]
    return UsageOut(license_id=license_id, epoch_seconds=svc.settings.epoch_seconds,
                    total_queries=sum(e.queries for e in epochs), epochs=epochs)


@router.post("/vouchers", response_model=VoucherOut)
def sign_voucher(license_id: LicenseIdPath, who: PrincipalDep,
                 svc: ServiceDep) -> VoucherOut:
    """Sign a cumulative voucher over every σ issued so far (idempotent when nothing is new)."""
    require_reader(who, license_id)
    return voucher_out(svc.books.sign_voucher(license_id), svc.signer)


@router.get("/vouchers/latest", response_model=VoucherOut)
def latest_voucher(license_id: LicenseIdPath, who: PrincipalDep,
                   svc: ServiceDep) -> VoucherOut:
    require_reader(who, license_id)
    return voucher_out(svc.books.latest_voucher(license_id), svc.signer)


@router.get("/proofs/{sequence}", response_model=ProofOut)
def proof(license_id: LicenseIdPath, sequence: SequencePath, who: PrincipalDep, svc: ServiceDep,
          voucher: Annotated[int | None, Query(ge=1, le=2**63 - 1, description=(
              "cumulativeQueries of the voucher to prove against; default the latest"))] = None,
          ) -> ProofOut:
    """Merkle proof that σ #sequence is a leaf of a voucher's usageRoot."""
    require_reader(who, license_id)
    found = svc.books.proof(license_id, sequence, voucher)
    return ProofOut(permission=permission_out(found.record, svc.signer.address),
                    voucher=voucher_out(found.voucher, svc.signer),
                    proof=[hex0x(p) for p in found.proof])
