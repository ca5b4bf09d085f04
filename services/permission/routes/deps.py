"""Shared route dependencies: the service object and the bearer token's principal."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from services.permission.auth import Principal
from services.permission.errors import Refused, wrong_license
from services.permission.service import Service

_bearer = HTTPBearer(auto_error=False, description="Token from POST /v1/auth/token")


async def service(request: Request) -> Service:
    # async: a plain `def` dependency would cost a threadpool round trip on every request
    return request.app.state.service


async def principal(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Refused(401, "missing_token", "sign in (POST /v1/auth/challenge, /v1/auth/token) "
                                            "and send Authorization: Bearer <token>")
    auth = request.app.state.service.auth
    # A token this process already knows is answered on the event loop, without a database
    # session or a threadpool hop; any other goes to the database in a worker thread.
    who = auth.cached_principal(credentials.credentials)
    if who is None:
        who = await run_in_threadpool(auth.authenticate, credentials.credentials)
    if auth.verifier_recheck_due(who):  # hosts never, verifiers every VERIFIER_RECHECK_S
        await run_in_threadpool(auth.recheck_verifier, who)
    return who


def require_reader(who: Principal, license_id: int) -> None:
    """Hosts read only their own license's books; active verifiers read any license's."""
    if not who.may_read(license_id):
        raise wrong_license(who.license_id, license_id)


def require_host_of(who: Principal, license_id: int) -> None:
    """Only the license's own host spends its quota."""
    if who.role != "host":
        raise Refused(403, "hosts_only", "only a license's host can obtain σ")
    if who.license_id != license_id:
        raise wrong_license(who.license_id, license_id)


ServiceDep = Annotated[Service, Depends(service)]
PrincipalDep = Annotated[Principal, Depends(principal)]
LicenseIdPath = Annotated[int, Path(ge=0, lt=2**256, description="License id (uint256)")]
SequencePath = Annotated[int, Path(ge=1, le=2**63 - 1, description="σ sequence number")]
QueryHashPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="bytes32, 0x-hex")]
