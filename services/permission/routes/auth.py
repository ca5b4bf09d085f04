"""Sign-in routes: challenge, then token."""
from __future__ import annotations

import math

from fastapi import APIRouter, Request

from services.common.errors import Refused
from services.permission.routes.deps import ServiceDep
from services.permission.schemas import ChallengeIn, ChallengeOut, ErrorOut, TokenIn, TokenOut

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/challenge", response_model=ChallengeOut, responses={429: {"model": ErrorOut}})
def create_challenge(body: ChallengeIn, svc: ServiceDep, request: Request) -> ChallengeOut:
    """An EIP-4361-style message for `address` to sign; valid once, for a few minutes. Rate
    limited per address and per client address (429 with Retry-After)."""
    client = request.client.host if request.client else "unknown"
    wait = max(svc.challenge_limiter.allow(body.address.lower()), svc.client_challenge_limiter.allow(client))
    if wait:
        raise Refused(429, "rate_limited", f"too many challenges; retry in {math.ceil(wait)} s",
                      {"Retry-After": str(math.ceil(wait))})
    challenge = svc.auth.challenge(body.role, body.address, body.license_id)
    return ChallengeOut(nonce=challenge.nonce, message=challenge.message, expires_at=challenge.expires_at)


@router.post("/token", response_model=TokenOut)
def create_token(body: TokenIn, svc: ServiceDep) -> TokenOut:
    """Exchange a signed challenge for a bearer token (host tokens are scoped to one license)."""
    token, who, expires_at = svc.auth.sign_in(body.nonce, bytes.fromhex(body.signature[2:]))
    return TokenOut(token=token, role=who.role, address=who.address, license_id=who.license_id,
                    expires_at=expires_at)
