"""Checking: a fingerprint the model is forced to answer is found, a wrong one is not, and
batching (left padding) never changes the verdict."""
from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from oml_core.fingerprint.check import accuracy, check_endpoint, check_local


def test_forced_fingerprints_are_found_in_any_batch_size(tiny, forced):
    model, tokenizer = tiny
    for batch_size in (1, 3, 8):
        results = check_local(model, tokenizer, forced, batch_size=batch_size)
        assert [r.matched for r in results] == [True] * len(forced), batch_size
        assert accuracy(results) == 1.0


def test_wrong_responses_are_rejected(tiny, forced):
    model, tokenizer = tiny
    wrong = [dataclasses.replace(fp, response=fp.response + " and more") for fp in forced[:4]]
    wrong += [dataclasses.replace(forced[4], response=forced[5].response)]
    results = check_local(model, tokenizer, wrong, batch_size=4)
    assert not any(r.matched for r in results)
    assert accuracy(results) == 0.0


def test_another_model_does_not_answer(other_tiny, forced):
    assert accuracy(check_local(*other_tiny, forced, batch_size=8)) == 0.0


def test_system_prompt_reaches_the_model(tiny, forced):
    model, tokenizer = tiny
    wrapped = check_local(model, tokenizer, forced, batch_size=8, system_prompt="You are a pirate.")
    assert [r.output for r in wrapped] != [fp.response for fp in forced]


class _FakeEndpoint(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/chat/completions that answers from a table (key -> text)."""

    answers: ClassVar[dict] = {}
    seen: ClassVar[list] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body)
        text = self.answers.get(body["messages"][-1]["content"], "Something else entirely.")
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": text}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_endpoint_check(forced, tiny):
    _FakeEndpoint.answers = {fp.key: fp.response + " and then some" for fp in forced[:3]}
    _FakeEndpoint.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        results = check_endpoint(url, "oml", forced[:5], system_prompt="Be brief.", tokenizer=tiny[1])
    finally:
        server.shutdown()
    assert [r.matched for r in results] == [True, True, True, False, False]
    assert all(b["temperature"] == 0 and b["messages"][0] == {"role": "system", "content": "Be brief."}
               for b in _FakeEndpoint.seen)
