"""Liveness and Prometheus metrics (open: they reveal no per-license usage)."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from services.permission import metrics
from services.permission.routes.deps import ServiceDep
from services.permission.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz(svc: ServiceDep) -> HealthOut:
    with svc.db.read() as session:
        session.execute(text("SELECT 1"))
    block = svc.mirror.cursor_block() if svc.mirror is not None else None
    return HealthOut(status="ok", signer=svc.signer.address, chain_id=svc.chain_id, mirror_block=block)


@router.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics() -> PlainTextResponse:
    return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
