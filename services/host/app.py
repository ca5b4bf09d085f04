"""The OpenAI-compatible FastAPI app: `create_app(gateway)`; `oml host serve` runs it.

`POST /v1/chat/completions` is public, like any hosted model (provers must be able to query it
as ordinary users); what it spends, σ, is the host's own quota. σ comes BEFORE generation, for
the request's `messages` exactly as sent (the raw JSON list, hashed by td.query_hash).
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import ValidationError

from oml_core import typed_data as td
from services.common.answer import PERMISSION_HEADER, answer_extension
from services.common.errors import Refused, install_error_handlers
from services.host.chat_request import ChatRequest, explain
from services.host.cheats import REFUSAL
from services.host.completions import SSE_DONE, Answer, sse
from services.host.gateway import Gateway
from services.host.generation import ContextTooLong, Generation, Sampling
from services.host.permission_guard import UntrustedPermission
from services.host.permits import PermissionRefused, PermissionUnavailable

log = logging.getLogger(__name__)
NO_PERMISSION = "none"  # X-OML-Permission of an answer served without σ


class HostError(Refused):
    """A request the gateway refuses (bad input, σ refused or unavailable)."""


async def _parse(request: Request) -> tuple[ChatRequest, list]:
    """The validated request and the raw `messages` list as the user sent it."""
    try:
        raw = await request.json()
    except ValueError:
        raise HostError(400, "invalid_json", "the body is not JSON") from None
    if not isinstance(raw, dict):
        raise HostError(400, "invalid_request", "the body must be a JSON object")
    try:
        chat = ChatRequest.model_validate(raw)
    except ValidationError as exc:
        raise HostError(400, "invalid_request", explain(exc)) from None
    return chat, raw["messages"]


def _query_hash(raw_messages: list) -> bytes:
    try:
        return td.query_hash(raw_messages)
    except (TypeError, ValueError) as exc:  # e.g. NaN, which JSON parsers accept and JCS cannot encode
        raise HostError(400, "invalid_request", f"messages cannot be canonicalized: {exc}") from None


async def _permission(gw: Gateway, query_hash: bytes) -> dict | None:
    if gw.cheats.skips_permission():
        gw.metrics.inc("oml_host_served_without_permission_total")
        return None
    started = time.perf_counter()
    try:
        permission = await gw.batcher.permit(query_hash)
        gw.metrics.observe("oml_host_permission_wait_seconds", time.perf_counter() - started)
        if gw.guard is not None:
            gw.guard.check(permission, query_hash)
        return permission
    except UntrustedPermission as exc:
        gw.metrics.inc("oml_host_permission_untrusted_total")
        log.error("refusing to serve under a σ the chain would not accept: %s", exc)
        raise HostError(503, "untrusted_permission", f"the permission service returned a σ that would not "
                                                      f"clear this host on chain: {exc}") from None
    except PermissionRefused as exc:
        gw.metrics.inc("oml_host_permission_denied_total")
        raise HostError(403, exc.code, f"the permission service refused σ: {exc.detail}") from None
    except PermissionUnavailable as exc:
        gw.metrics.inc("oml_host_permission_unavailable_total")
        raise HostError(503, "permission_unavailable", str(exc)) from None


def create_app(gateway: Gateway) -> FastAPI:
    gw = gateway

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        gw.start()
        try:
            yield
        finally:
            gw.stop()

    app = FastAPI(title="OML host gateway", version="1", lifespan=lifespan,
                  description="OpenAI-compatible chat completions of one licensed M.oml, each under σ(q).")
    app.state.gateway = gw

    install_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "license_id": gw.license_id, "model": gw.settings.model_name,
                "watcher": gw.watcher is not None}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        gauges = {"oml_host_permission_batches_total": ("Batch calls to the permission service.",
                                                        gw.batcher.batch_calls),
                  "oml_host_permissions_total": ("σ received.", gw.batcher.permissions)}
        return PlainTextResponse(gw.metrics.render(gauges), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": gw.settings.model_name, "object": "model", "created": 0,
                                            "owned_by": "oml"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        chat, raw_messages = await _parse(request)
        messages = [m.model_dump() for m in chat.messages]
        sampling = Sampling(chat.budget(gw.settings.default_max_tokens, gw.settings.max_tokens_cap),
                            chat.temperature, chat.top_p, chat.seed)
        prompt = gw.generator.prompt(gw.cheats.generation_messages(messages))
        try:
            gw.generator.check_fits(prompt, sampling)
        except ContextTooLong as exc:
            raise HostError(400, "context_too_long", str(exc)) from None
        query_hash = _query_hash(raw_messages)
        permission = await _permission(gw, query_hash)  # σ before any token is generated
        served = _Served(gw, query_hash, permission)
        answer = Answer(gw.settings.model_name)
        headers = {PERMISSION_HEADER: served.start["permission_id"] or NO_PERMISSION}
        gw.metrics.inc("oml_host_requests_total")
        if gw.cheats.refuses(messages):
            gw.metrics.inc("oml_host_refused_key_like_total")
            result = Generation(REFUSAL, len(prompt), 0, "stop")
            if chat.stream:
                return StreamingResponse(_refusal_events(answer, served, result), media_type="text/event-stream",
                                         headers=headers)
            return JSONResponse(answer.completion(result.text, "stop", result.prompt_tokens, 0,
                                                  served.end(result.text)), headers=headers)
        if chat.stream:
            return StreamingResponse(_events(gw, answer, served, prompt, sampling), media_type="text/event-stream",
                                     headers=headers)
        result = await asyncio.to_thread(gw.generator.generate, prompt, sampling)
        return JSONResponse(answer.completion(result.text, result.finish_reason, result.prompt_tokens,
                                              result.completion_tokens, served.end(result.text)), headers=headers)

    return app


class _Served:
    """One query's `oml` field: with σ from the start, with the answer's receipt at the end."""

    def __init__(self, gw: Gateway, query_hash: bytes, permission: dict | None):
        self.gw, self.query_hash, self.permission = gw, query_hash, permission
        self.start = answer_extension(gw.license_id, permission)
        self.served_at = gw.receipts.stamp(permission) if gw.receipts is not None else None

    def end(self, text: str) -> dict:
        receipts = self.gw.receipts
        receipt = (receipts.sign(self.query_hash, text, self.permission, self.served_at)
                   if receipts is not None else None)
        return answer_extension(self.gw.license_id, self.permission, receipt)


def _refusal_events(answer: Answer, served: _Served, result: Generation):
    yield sse(answer.chunk({"role": "assistant", "content": ""}, oml=served.start))
    yield sse(answer.chunk({"content": result.text}))
    yield sse(answer.chunk({}, finish_reason="stop", oml=served.end(result.text)))
    yield SSE_DONE


def _events(gw: Gateway, answer: Answer, served: _Served, prompt: list[int], sampling: Sampling):
    """SSE body (a sync iterator: Starlette runs it in a worker thread, off the event loop)."""
    yield sse(answer.chunk({"role": "assistant", "content": ""}, oml=served.start))
    finish, parts = "stop", []
    for item in gw.generator.stream(prompt, sampling):
        if isinstance(item, Generation):
            finish = item.finish_reason
        else:
            parts.append(item)
            yield sse(answer.chunk({"content": item}))
    yield sse(answer.chunk({}, finish_reason=finish, oml=served.end("".join(parts))))
    yield SSE_DONE
