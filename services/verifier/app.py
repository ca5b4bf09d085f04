"""The FastAPI application: `create_app(settings)`; `oml verifier run` serves it with uvicorn."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.common.errors import install_error_handlers
from services.common.signed_requests import RequestVerifier
from services.verifier import routes
from services.verifier.config import Settings
from services.verifier.service import Verifier
from services.verifier.verdicts import Unavailable


def create_app(settings: Settings | None = None, verifier: Verifier | None = None,
               run_worker: bool = True) -> FastAPI:
    """`verifier` (already built) or `settings` (built here). `run_worker=False` leaves the
    background pass off (a test drives `verifier.run_once()` itself)."""
    svc = verifier if verifier is not None else Verifier(settings)
    provers = set(svc.settings.provers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if run_worker:
            svc.start()
        try:
            yield
        finally:
            svc.stop()

    app = FastAPI(title="OML verifier", version="1", lifespan=lifespan,
                  description="Checks transcripts, gathers attestations, opens and executes claims.")
    app.state.verifier = svc
    app.state.max_body_bytes = svc.settings.max_body_bytes
    app.state.prover_gate = RequestVerifier(lambda address: address in provers)
    app.state.verifier_gate = RequestVerifier(svc.chain.is_active_verifier)

    install_error_handlers(app)

    @app.exception_handler(Unavailable)
    async def unavailable(_request: Request, exc: Unavailable) -> JSONResponse:
        # the chain or the permission service is down: no verdict, ask again later
        return JSONResponse({"error": "unavailable", "detail": str(exc)}, status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        return JSONResponse({"error": "invalid_request", "detail": detail}, status_code=422)

    app.include_router(routes.router)
    return app
