"""σ issuance (hosts) and σ lookup (verifiers, or the license's host)."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

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
    hex0x,
)
from services.permission.service import Service

router = APIRouter(tags=["permissions"])


async def _issue(svc: Service, license_id: int, hashes: list[str]) -> list[Issued]:
    return await svc.writer.issue(license_id, [bytes.fromhex(h[2:]) for h in hashes])


def _permission_json(issued: Issued, signer: str) -> dict:
    # the fields of PermissionOut (the documented response_model), built without re-validating
    return {"license_id": issued.license_id, "query_hash": hex0x(issued.query_hash),
            "sequence": issued.sequence, "issued_at": issued.issued_at, "epoch": issued.epoch,
            "signature": hex0x(issued.signature), "signer": signer, "leaf": hex0x(issued.leaf)}


@router.post("/v1/permissions", response_model=PermissionOut)
async def issue_one(body: PermissionIn, who: PrincipalDep, svc: ServiceDep) -> JSONResponse:
    """σ(q) for one query; stored durably before this response is sent."""
    require_host_of(who, body.license_id)
    (issued,) = await _issue(svc, body.license_id, [body.query_hash])
    return JSONResponse(_permission_json(issued, svc.signer.address))


@router.post("/v1/permissions/batch", response_model=PermissionBatchOut)
async def issue_batch(body: PermissionBatchIn, who: PrincipalDep, svc: ServiceDep) -> JSONResponse:
    """σ for several queries at once, consecutive sequence numbers, all or none."""
    require_host_of(who, body.license_id)
    if len(body.query_hashes) > svc.settings.max_batch:
        raise Refused(413, "batch_too_large",
                      f"{len(body.query_hashes)} queries in one batch; at most {svc.settings.max_batch}")
    issued = await _issue(svc, body.license_id, body.query_hashes)
    signer = svc.signer.address
    return JSONResponse({"permissions": [_permission_json(i, signer) for i in issued]})


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
