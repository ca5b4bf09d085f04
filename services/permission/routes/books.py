"""License state, usage per epoch, vouchers and inclusion proofs."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oml_core import typed_data as td
from services.common.errors import Refused
from services.permission.routes.convert import permission_out, voucher_out
from services.permission.routes.deps import (
    LicenseIdPath,
    PrincipalDep,
    SequencePath,
    ServiceDep,
    require_host_of,
    require_reader,
)
from services.permission.schemas import (
    ClosureOut,
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


@router.post("/closure", response_model=ClosureOut)
def sign_closure(license_id: LicenseIdPath, who: PrincipalDep, svc: ServiceDep) -> ClosureOut:
    """The UsageClosure of an exiting license whose σ are all settled on chain: with it (sent by
    anyone to UsageSettlement.close) its host withdraws its stake at the end of the unbonding.
    This service's exit settler sends it itself when it has a settler key; this route is for a
    host whose service has none."""
    require_host_of(who, license_id)
    row = svc.books.license(license_id)
    if row.status not in ("exiting", "exited"):
        raise Refused(409, "license_not_exiting", f"license {license_id} is {row.status}: a usage account "
                                                   "closes only once its host asked to exit")
    issued, settled = int(row.issued or 0), int(row.settled_queries or 0)
    if settled != issued:
        raise Refused(409, "usage_not_settled",
                      f"{issued} σ issued, {settled} settled on chain (as this service has seen it): settle "
                      f"the latest voucher first (POST /v1/licenses/{license_id}/vouchers, then "
                      "UsageSettlement.settle), and ask again once its block is confirmed")
    closure = td.UsageClosure(license_id, issued)
    domain = svc.signer.voucher_domain
    return ClosureOut(license_id=license_id, cumulative_queries=issued,
                      signature="0x" + svc.signer.sign_closure(closure).hex(), signer=svc.signer.address,
                      verifying_contract=domain.verifying_contract, chain_id=domain.chain_id)


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
