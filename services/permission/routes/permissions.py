"""σ issuance (hosts) and σ lookup (verifiers, or the license's host)."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter

from services.permission.errors import Refused
from services.permission.issuance import Issued
from services.permission.routes.convert import permission_out
from services.permission.routes.deps import (
    LicenseIdPath,
    PrincipalDep,
    QueryHashPath,
    ServiceDep,
    require_host_of,
    require_reader,
)
from services.permission.schemas import (
    LookupOut,
    PermissionBatchIn,
    PermissionBatchOut,
    PermissionIn,
    PermissionOut,
)
from services.permission.service import Service

router = APIRouter(tags=["permissions"])
WRITER_TIMEOUT_S = 30.0


async def _issue(svc: Service, license_id: int, hashes: list[str]) -> list[Issued]:
    future = svc.writer.submit(license_id, [bytes.fromhex(h[2:]) for h in hashes])
    try:
        # shield: a client that hangs up must not cancel the future (the σ may still commit)
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), WRITER_TIMEOUT_S)
    except TimeoutError:
        raise Refused(503, "writer_timeout", "σ could not be stored in time; retry") from None


@router.post("/v1/permissions", response_model=PermissionOut)
async def issue_one(body: PermissionIn, who: PrincipalDep,
                    svc: ServiceDep) -> PermissionOut:
    """σ(q) for one query; stored durably before this response is sent."""
    require_host_of(who, body.license_id)
    (issued,) = await _issue(svc, body.license_id, [body.query_hash])
    return permission_out(issued, svc.signer.address)


@router.post("/v1/permissions/batch", response_model=PermissionBatchOut)
async def issue_batch(body: PermissionBatchIn, who: PrincipalDep,
                      svc: ServiceDep) -> PermissionBatchOut:
    """σ for several queries at once, consecutive sequence numbers, all or none."""
    require_host_of(who, body.license_id)
    if len(body.query_hashes) > svc.settings.max_batch:
        raise Refused(413, "batch_too_large",
                      f"{len(body.query_hashes)} queries in one batch; at most {svc.settings.max_batch}")
    issued = await _issue(svc, body.license_id, body.query_hashes)
    return PermissionBatchOut(permissions=[permission_out(i, svc.signer.address) for i in issued])


@router.get("/v1/licenses/{license_id}/permissions/{query_hash}", response_model=LookupOut)
def lookup(license_id: LicenseIdPath, query_hash: QueryHashPath,
           who: PrincipalDep, svc: ServiceDep) -> LookupOut:
    """Every σ issued for (license, queryHash); 404 when there is none."""
    require_reader(who, license_id)
    records = svc.books.lookup(license_id, bytes.fromhex(query_hash[2:]))
    if not records:
        svc.books.license(license_id)  # unknown license -> its own 404
        raise Refused(404, "no_permission", f"no σ for query {query_hash} under license {license_id}")
    return LookupOut(license_id=license_id, query_hash=query_hash.lower(),
                     permissions=[permission_out(r, svc.signer.address) for r in records])
