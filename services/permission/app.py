"""The FastAPI application: `create_app(settings)`; `oml permission serve` runs it with uvicorn."""
from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.errors import install_error_handlers
from services.permission.config import Settings
from services.permission.routes import auth, books, health, permissions
from services.permission.schemas import ErrorOut
from services.permission.service import Service, build_service

log = logging.getLogger(__name__)

_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 402, 403, 404, 409, 413)}


def create_app(settings: Settings | None = None, service: Service | None = None, **build) -> FastAPI:
    """`service` (already built) or `settings` (built here); `build` goes to build_service."""
    svc = service if service is not None else build_service(settings or Settings(), **build)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc.start()
        # Everything built so far (app, routes, schemas, SQLAlchemy metadata) lives as long as
        # the process: frozen, the collector stops re-scanning it on every full collection,
        # which showed as 100 ms stalls in the single route's p99 (docs/BENCHMARKS.md).
        gc.freeze()
        try:
            yield
        finally:
            svc.stop()

    app = FastAPI(title="OML permission service", version="1",
                  description="Signs σ(q) for every query a licensed host serves; keeps the books.",
                  lifespan=lifespan, responses=_ERRORS)
    app.state.service = svc

    install_error_handlers(app, authenticate="Bearer")

    for module in (auth, permissions, books, health):
        app.include_router(module.router)
    return app
