"""HTTP routes. Provers hand in transcripts and read their status (signed requests from an
allowlisted prover); peers ask for attestations (signed by an active verifier that is the
claimant); claims, health and metrics are public (they show what the chain shows).

A signed request is authenticated from its headers before its body is read, and the body is read
only up to `max_body_bytes`: a stranger cannot make the verifier buffer or parse anything."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ValidationError

from services.common.errors import Refused
from services.common.signed_requests import RequestVerifier, SignedRequestError
from services.common.transcript import Address, Transcript
from services.verifier import metrics
from services.verifier.bodies import read_body
from services.verifier.service import Verifier
from services.verifier.verdicts import Verdict

router = APIRouter()


class AttestationRequest(BaseModel):
    transcript: Transcript
    claimant: Address


class AttestationOut(BaseModel):
    verifier: str
    signature: str
    verdict: str
    reason: str


def _verifier(request: Request) -> Verifier:
    return request.app.state.verifier


REFUSAL_CODES = {401: "unauthorized", 403: "forbidden", 429: "too_many_requests"}


async def _signer(request: Request, gate: RequestVerifier) -> tuple[str, bytes]:
    """The authenticated caller and the raw body it signed."""
    try:
        # the gate may ask the chain (is the caller an active verifier?): off the event loop
        signed = await run_in_threadpool(gate.verify_headers, request.method, request.url.path, request.headers)
        body = await read_body(request, request.app.state.max_body_bytes)
        signed.check_body(body)
    except SignedRequestError as exc:
        raise Refused(exc.status, REFUSAL_CODES[exc.status], str(exc)) from None
    return signed.signer, body


def _parse(model: type[BaseModel], body: bytes) -> BaseModel:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise Refused(422, "invalid_body", "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:5])) from None


@router.post("/v1/transcripts", status_code=202)
async def submit_transcript(request: Request) -> JSONResponse:
    verifier = _verifier(request)
    signer, body = await _signer(request, request.app.state.prover_gate)
    transcript = _parse(Transcript, body)
    if transcript.prover.lower() != signer.lower():
        raise Refused(403, "wrong_prover",
                      f"the transcript names prover {transcript.prover}, the request is by {signer}")
    status = await run_in_threadpool(verifier.submit, transcript)
    return JSONResponse({"transcript_id": status["transcript_id"], "status": status["status"]},
                        status_code=202)


@router.get("/v1/transcripts/{transcript_id}")
async def transcript_status(request: Request,
                            transcript_id: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")]) -> dict:
    await _signer(request, request.app.state.prover_gate)
    status = await run_in_threadpool(_verifier(request).transcript_status, transcript_id.lower())
    if status is None:
        raise Refused(404, "unknown_transcript", f"no transcript {transcript_id}")
    return status


@router.post("/v1/attestations", response_model=AttestationOut)
async def attest(request: Request) -> AttestationOut:
    verifier = _verifier(request)
    signer, body = await _signer(request, request.app.state.verifier_gate)
    ask = _parse(AttestationRequest, body)
    if ask.claimant.lower() != signer.lower():
        raise Refused(403, "not_claimant",
                      f"attestations for claimant {ask.claimant} are asked by it, not by {signer}")
    result, signature = await run_in_threadpool(verifier.attest, ask.transcript, signer)
    if signature is None:
        raise Refused(422 if result.verdict == Verdict.INVALID else 409, result.verdict.value, result.reason)
    return AttestationOut(verifier=verifier.address, signature="0x" + signature.hex(),
                          verdict=result.verdict.value, reason=result.reason)


@router.get("/v1/claims")
async def claims(request: Request) -> dict:
    return {"claims": await run_in_threadpool(_verifier(request).claim_list)}


@router.get("/healthz")
async def healthz(request: Request) -> dict:
    verifier = _verifier(request)
    return {"status": "ok", "verifier": verifier.address}


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus(request: Request) -> PlainTextResponse:
    counts = await run_in_threadpool(_verifier(request).store.counts)
    return PlainTextResponse(metrics.render(counts), media_type="text/plain; version=0.0.4; charset=utf-8")
