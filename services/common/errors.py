"""Refusals every OML service answers the same way: an HTTP status and a stable code, sent as
{"error": code, "detail": text}. Anything else reaching a client as a 500 is a bug."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class Refused(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}

    def as_json(self) -> dict:
        return {"error": self.code, "detail": self.detail}


def install_error_handlers(app: FastAPI, refused_types: tuple[type[Exception], ...] = (Refused,),
                           authenticate: str | None = None) -> None:
    """Refused (or another type with status/code/detail) -> its status and JSON, 401s naming the
    `authenticate` scheme when there is one; FastAPI's own 400 (bad body), 404 (no route) and
    405 in the same shape."""

    async def refused(_request: Request, exc) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status == 401 and authenticate:
            headers["WWW-Authenticate"] = authenticate
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status, headers=headers)

    for refused_type in refused_types:
        app.add_exception_handler(refused_type, refused)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": f"http_{exc.status_code}", "detail": str(exc.detail)},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))
