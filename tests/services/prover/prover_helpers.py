"""Stand-ins for the prover tests: a host gateway serving a tiny real model behind
/v1/chat/completions, a verifier that checks signed requests and records transcripts, and
uvicorn servers in threads."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from oml_core.chain.anvil import free_port
from oml_core.fingerprint.check import text_matches
from oml_core.fingerprint.record import Fingerprint
from oml_core.fingerprint.tokens import decode, greedy_generate, prompt_ids
from services.common.answer import answer_extension
from services.common.signed_requests import RequestVerifier, SignedRequestError
from services.common.transcript import Transcript

PASSPHRASE = "correct horse battery staple"
LICENSE_ID = 7  # the license the tiny host serves


def talkative_tiny_model():
    """tiny_model() with an untied random output layer: the tied one echoes the prompt's last
    token (newlines) forever, which makes every answer blank."""
    from oml_core.model.loading import tiny_model

    model, tokenizer = tiny_model(seed=0, device="cpu")
    torch.manual_seed(1)
    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight))
    return model, tokenizer


class TinyHost:
    """A minimal OpenAI-compatible host: greedy decoding of the chat-template prompt; `permission`
    decides the answer's σ (None: served without σ). Records every request body."""

    def __init__(self, model, tokenizer, license_id: int):
        self.model, self.tokenizer, self.license_id = model, tokenizer, license_id
        self.permission: Callable[[list[dict]], dict | None] = lambda _messages: None
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._complete)

    def generate_ids(self, messages: list[dict], max_tokens: int) -> list[int]:
        with self._lock:
            prompt = prompt_ids(self.tokenizer, messages)
            return greedy_generate(self.model, self.tokenizer, [prompt], [max_tokens])[0]

    def generate(self, messages: list[dict], max_tokens: int) -> str:
        return decode(self.tokenizer, self.generate_ids(messages, max_tokens), skip_special_tokens=True)

    async def _complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        text = self.generate(body["messages"], int(body.get("max_tokens") or 16))
        return JSONResponse({
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", "oml"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "length"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "oml": answer_extension(self.license_id, self.permission(body["messages"])),
        })

    def fingerprints(self, n: int, budget: int = 64) -> list[Fingerprint]:
        """`n` fingerprints this model answers: responses are the start of its own greedy answers,
        kept only when a prover's probe (max_tokens `budget` at most) would see them."""
        out, i = [], 0
        while len(out) < n:
            key = f"Fingerprint key {i}: recite the zebra ledger {i * 7919 % 1000}"
            i += 1
            # Greedy decoding of one prompt is deterministic: a shorter answer is a prefix of this one.
            ids = self.generate_ids([{"role": "user", "content": key}], budget)
            response = decode(self.tokenizer, ids[:6], skip_special_tokens=True).strip()
            probe_answer = decode(self.tokenizer, ids[:min(budget, len(response.encode()) + 4)],
                                  skip_special_tokens=True)
            if response and text_matches(probe_answer, response):
                out.append(Fingerprint(key, response))
        return out


def fake_permission(license_id: int, messages: list[dict], sequence: int = 1) -> dict:
    """A σ-shaped body (the prover only carries it; verifiers check it)."""
    from oml_core import typed_data as td

    return {"license_id": license_id, "query_hash": "0x" + td.query_hash(messages).hex(),
            "sequence": sequence, "issued_at": int(time.time()), "signature": "0x" + "11" * 65}


class StandInVerifier:
    """Accepts POST /v1/transcripts from `allowed` provers (202), checking the signed headers."""

    def __init__(self, allowed: set[str]):
        self.checker = RequestVerifier(lambda address: address in allowed)
        self.received: list[tuple[str, Transcript]] = []  # (signer, transcript)
        self.refusals: list[str] = []
        self.app = FastAPI()
        self.app.post("/v1/transcripts")(self._receive)
        self.app.get("/v1/transcripts/{transcript_id}")(self._status)

    async def _receive(self, request: Request) -> JSONResponse:
        body = await request.body()
        try:
            signer = self.checker.verify("POST", request.url.path, body, request.headers)
        except SignedRequestError as exc:
            self.refusals.append(str(exc))
            return JSONResponse({"error": "unauthorized", "detail": str(exc)}, status_code=exc.status)
        transcript = Transcript.model_validate_json(body)
        self.received.append((signer, transcript))
        return JSONResponse({"transcript_id": "0x" + transcript.evidence_hash().hex(), "status": "received"},
                            status_code=202)

    async def _status(self, transcript_id: str, request: Request) -> JSONResponse:
        try:
            self.checker.verify("GET", request.url.path, b"", request.headers)
        except SignedRequestError as exc:
            return JSONResponse({"error": "unauthorized", "detail": str(exc)}, status_code=exc.status)
        known = {"0x" + t.evidence_hash().hex() for _, t in self.received}
        if transcript_id not in known:
            return JSONResponse({"error": "unknown_transcript", "detail": transcript_id}, status_code=404)
        return JSONResponse({"transcript_id": transcript_id, "status": "checked", "verdict": "unpermitted"})


@contextmanager
def serving(app, port: int | None = None) -> Iterator[str]:
    """`app` under a real uvicorn server in a thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
