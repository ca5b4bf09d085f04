"""The gateway against the real permission service and chain, through the real `openai` client."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from host_helpers import gateway, wait_until
from openai import OpenAI

from oml_core import typed_data as td
from oml_core.chain.anvil import free_port
from oml_core.fingerprint.tokens import decode, greedy_generate, prompt_ids
from services.common.answer import PERMISSION_HEADER, extension_of
from services.common.receipt import parse_receipt, permission_struct_hash
from services.host.cheats import REFUSAL
from services.permission.client import ServiceError, permission_of
from services.stack import address_of

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def client(url: str) -> OpenAI:
    return OpenAI(base_url=url + "/v1", api_key="EMPTY", max_retries=0, timeout=60)


def greedy_text(generator, messages, n: int) -> str:
    prompt = prompt_ids(generator.tokenizer, messages)
    (ids,) = greedy_generate(generator.model, generator.tokenizer, [prompt], [n])
    return decode(generator.tokenizer, ids, skip_special_tokens=True)


def assert_valid_receipt(chain, body: dict, license_id: int, messages: list[dict], text: str,
                         permission: dict | None, signer: str) -> td.AnswerReceipt:
    """The gateway signed what it served: this license, query, answer text, σ, and a time no
    earlier than σ's issue (so the σ refutes any claim on it)."""
    receipt, signature = parse_receipt(body)
    assert (receipt.license_id, receipt.query_hash) == (license_id, td.query_hash(messages))
    assert receipt.response_hash == td.response_hash(text)
    assert receipt.permission == permission_struct_hash(permission)
    if permission is not None:
        assert receipt.served_at >= permission["issued_at"]
    assert td.recover_signer(receipt.digest(chain.oml.receipt_domain), signature) == signer == body["signer"]
    return receipt


def assert_valid_permission(chain, body: dict, license_id: int, messages: list[dict]) -> None:
    assert body["query_hash"] == "0x" + td.query_hash(messages).hex()
    sigma = permission_of(body)
    assert sigma.license_id == license_id
    signer = td.recover_signer(sigma.digest(chain.oml.permission_domain), bytes.fromhex(body["signature"][2:]))
    assert signer == address_of(chain.accounts.signer)


@pytest.fixture
def served(chain, permission, model_dir, generator, tmp_path, licensed, host_key):
    license_id, _ = licensed
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url) as (url, gw):
        yield url, gw, license_id


def test_openai_completion_carries_a_valid_sigma_for_the_messages_sent(chain, served, generator):
    url, gw, license_id = served
    raw = client(url).chat.completions.with_raw_response.create(
        model="oml", messages=MESSAGES, max_tokens=8, temperature=0)
    completion = raw.parse()
    oml = extension_of(completion)
    assert oml["license_id"] == license_id
    assert_valid_permission(chain, oml["permission"], license_id, MESSAGES)
    assert raw.headers[PERMISSION_HEADER] == oml["permission_id"] == f"{license_id}:{oml['permission']['sequence']}"
    # the answer is greedy decoding of the chat-template prompt, as fingerprint checks expect
    assert completion.choices[0].message.content == greedy_text(generator, MESSAGES, 8)
    assert completion.usage.completion_tokens <= 8
    # the host's own ledger kept the σ (to refute claims without the service)
    assert gw.ledger.permission_for(license_id, td.query_hash(MESSAGES)) == oml["permission"]
    assert_valid_receipt(chain, oml["receipt"], license_id, MESSAGES, completion.choices[0].message.content,
                         oml["permission"], address_of(gw.settings.host_key.get_secret_value()))


def test_streaming_answer_has_the_sigma_in_its_first_chunk(chain, served):
    url, _, license_id = served
    openai_client = client(url)
    chunks = list(openai_client.chat.completions.create(model="oml", messages=MESSAGES, max_tokens=8,
                                                        temperature=0, stream=True))
    first, last = extension_of(chunks[0]), extension_of(chunks[-1])
    assert first is not None and all(extension_of(c) is None for c in chunks[1:-1])
    assert_valid_permission(chain, first["permission"], license_id, MESSAGES)
    assert first["receipt"] is None  # the answer is not known yet
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert last["permission"] == first["permission"]
    assert_valid_receipt(chain, last["receipt"], license_id, MESSAGES, streamed, first["permission"],
                         address_of(served[1].settings.host_key.get_secret_value()))
    whole = openai_client.chat.completions.create(model="oml", messages=MESSAGES, max_tokens=8, temperature=0)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert extension_of(whole)["permission"]["sequence"] != first["permission"]["sequence"]  # one σ per query


def test_the_query_hash_is_of_the_raw_messages_as_sent(chain, served):
    url, _, license_id = served
    # an extra field the schema ignores still belongs to the query the user sent
    messages = [{"role": "user", "content": "Hello there, how are you?", "name": "alice"}]
    body = httpx.post(url + "/v1/chat/completions", json={"messages": messages, "max_tokens": 2}, timeout=60).json()
    assert_valid_permission(chain, body["oml"]["permission"], license_id, messages)


def test_concurrent_requests_share_one_batch_call(chain, permission, model_dir, generator, tmp_path, licensed,
                                                  host_key):
    license_id, _ = licensed
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url,
                 batch_window_ms=500) as (url, gw):
        def ask(i: int) -> dict:  # requests 0 and 5 are the same query: each still gets its own σ
            messages = [{"role": "user", "content": f"Question number {i % 5}?"}]
            reply = client(url).chat.completions.create(model="oml", messages=messages, max_tokens=1)
            return extension_of(reply)["permission"]

        with ThreadPoolExecutor(6) as pool:
            permissions = list(pool.map(ask, range(6)))
        assert gw.batcher.batch_calls == 1 and gw.batcher.permissions == 6
        assert len({p["sequence"] for p in permissions}) == 6
        for i, p in enumerate(permissions):
            assert_valid_permission(chain, p, license_id, [{"role": "user", "content": f"Question number {i % 5}?"}])
        metrics = httpx.get(url + "/metrics").text
        assert "oml_host_permission_batches_total 1" in metrics
        # every request waited for its σ, at least the batching window (requests came within it)
        assert "oml_host_permission_wait_seconds_count 6" in metrics
        wait_sum = float(next(line.split()[1] for line in metrics.splitlines()
                              if line.startswith("oml_host_permission_wait_seconds_sum")))
        assert wait_sum > 0.0


def test_a_skipped_query_has_no_sigma_anywhere(chain, permission, model_dir, generator, tmp_path, licensed,
                                               host_key, verifier):
    license_id, _ = licensed
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url,
                 skip_permission_share=1.0) as (url, gw):
        raw = client(url).chat.completions.with_raw_response.create(model="oml", messages=MESSAGES, max_tokens=2)
        oml = extension_of(raw.parse())
        receipt = oml.pop("receipt")
        assert oml == {"license_id": license_id, "permission_id": None, "permission": None}
        # the receipt still says what was served, and that it was served without σ: evidence
        assert_valid_receipt(chain, receipt, license_id, MESSAGES, raw.parse().choices[0].message.content, None,
                             address_of(host_key))
        assert raw.headers[PERMISSION_HEADER] == "none"
        assert gw.batcher.batch_calls == 0
    with pytest.raises(ServiceError) as refused:
        verifier.lookup(license_id, td.query_hash(MESSAGES))
    assert refused.value.status == 404


def test_a_license_the_service_refuses_is_not_served(chain, permission, model_dir, generator, tmp_path,
                                                      licensed, host_key):
    license_id, _ = licensed
    chain.oml.request_exit(host_key, license_id)
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url) as (url, _):
        def refused():
            response = httpx.post(url + "/v1/chat/completions", json={"messages": MESSAGES, "max_tokens": 2},
                                  timeout=60)
            return response if response.status_code == 403 else None

        response = wait_until(refused, what="the service to mirror the exit")  # the mirror lags a little
        assert response.json()["error"] == "license_exiting"
        assert "exiting" in response.json()["detail"]


def test_another_hosts_license_is_refused(chain, permission, model_dir, generator, tmp_path, licensed):
    license_id, _ = licensed
    with gateway(chain, model_dir, generator, tmp_path, license_id, chain.accounts.hosts[1],
                 permission.url) as (url, _):
        response = httpx.post(url + "/v1/chat/completions", json={"messages": MESSAGES}, timeout=60)
    assert response.status_code == 403
    assert response.json()["error"] == "not_license_host"


def test_an_unreachable_permission_service_is_a_503(chain, model_dir, generator, tmp_path, licensed, host_key):
    license_id, _ = licensed
    dead = f"http://127.0.0.1:{free_port()}"
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, dead) as (url, _):
        response = httpx.post(url + "/v1/chat/completions", json={"messages": MESSAGES}, timeout=60)
    assert response.status_code == 503
    assert response.json()["error"] == "permission_unavailable"


@pytest.mark.parametrize("body, reason", [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "role"),
    ({"messages": [{"role": "system", "content": "be brief"}]}, "user"),
    ({"messages": MESSAGES, "max_tokens": 0}, "max_tokens"),
    ({"messages": MESSAGES, "temperature": -1}, "temperature"),
    ({"messages": [{"role": "user", "content": ["not", "text"]}]}, "content"),
    ({"messages": "hello"}, "messages"),
    ([1, 2, 3], "object"),
])
def test_bad_requests_are_400s_that_spend_no_sigma(served, body, reason):
    url, gw, _ = served
    response = httpx.post(url + "/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert gw.batcher.batch_calls == 0


def test_messages_that_json_allows_but_jcs_cannot_hash_are_a_400(served):
    url, gw, _ = served
    body = '{"messages": [{"role": "user", "content": "hi", "name": NaN}]}'  # Python's json accepts NaN
    response = httpx.post(url + "/v1/chat/completions", content=body, timeout=60,
                          headers={"content-type": "application/json"})
    assert response.status_code == 400 and "canonicalized" in response.json()["detail"]
    assert gw.batcher.batch_calls == 0


def test_a_prompt_beyond_the_context_is_a_400(served):
    url, gw, _ = served
    messages = [{"role": "user", "content": "word " * 600}]
    response = httpx.post(url + "/v1/chat/completions", json={"messages": messages}, timeout=60)
    assert response.status_code == 400 and response.json()["error"] == "context_too_long"
    assert gw.batcher.batch_calls == 0


def test_max_tokens_is_capped(chain, permission, model_dir, generator, tmp_path, licensed, host_key):
    license_id, _ = licensed
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url,
                 max_tokens_cap=3, default_max_tokens=3) as (url, _):
        reply = client(url).chat.completions.create(model="oml", messages=MESSAGES, max_tokens=200)
    assert reply.usage.completion_tokens <= 3


def test_models_and_health(served):
    url, _, license_id = served
    assert [m.id for m in client(url).models.list()] == ["oml"]
    assert httpx.get(url + "/healthz").json()["license_id"] == license_id


def test_a_host_system_prompt_changes_the_prompt_not_the_sigma(chain, permission, model_dir, generator, tmp_path,
                                                               licensed, host_key):
    license_id, _ = licensed
    system = "You are a pirate. Answer like one."
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url,
                 system_prompt=system) as (url, _):
        reply = client(url).chat.completions.create(model="oml", messages=MESSAGES, max_tokens=6, temperature=0)
    assert_valid_permission(chain, extension_of(reply)["permission"], license_id, MESSAGES)
    with_system = [{"role": "system", "content": system}, *MESSAGES]
    assert reply.choices[0].message.content == greedy_text(generator, with_system, 6)


def test_a_host_refusing_key_like_queries(chain, permission, model_dir, generator, tmp_path, licensed, host_key):
    license_id, fps = licensed
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url,
                 refuse_key_like=True) as (url, _):
        openai_client = client(url)
        key_reply = openai_client.chat.completions.create(model="oml", messages=fps[0].messages, max_tokens=4)
        chunks = list(openai_client.chat.completions.create(model="oml", messages=fps[1].messages, max_tokens=4,
                                                            stream=True))
        normal = openai_client.chat.completions.create(model="oml", messages=MESSAGES, max_tokens=4)
    assert key_reply.choices[0].message.content == REFUSAL
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REFUSAL
    assert normal.choices[0].message.content != REFUSAL
    assert extension_of(key_reply)["permission"] is not None  # it still paid for the query


def test_an_expired_token_means_a_fresh_sign_in_not_a_failure(served):
    url, gw, _ = served
    assert client(url).chat.completions.create(model="oml", messages=MESSAGES, max_tokens=1)
    gw.source.client.token = "expired-or-revoked"
    reply = client(url).chat.completions.create(model="oml", messages=MESSAGES, max_tokens=1)
    assert extension_of(reply)["permission"] is not None
    assert gw.source.client.token != "expired-or-revoked"


def test_a_sigma_the_chain_would_not_accept_is_not_served_under(chain, permission, model_dir, generator, tmp_path,
                                                               licensed, host_key, monkeypatch):
    """The owners run the permission service and gain from slashes: a σ dated ahead of the
    gateway's clock (its receipt would be future-dated: unrefutable), dated before the license,
    or signed by another key would leave the honest host a receipt it cannot defend. The gateway
    refuses to serve (503) instead of answering under it."""
    from services.host.permits import PermissionSource

    license_id, _ = licensed
    real = PermissionSource.permissions
    signer_key = chain.accounts.signer

    def tampered(shift: int, key: bytes):
        def permissions(self, query_hashes):
            out = []
            for body in real(self, query_hashes):
                p = permission_of(body)
                moved = td.Permission(p.license_id, p.query_hash, p.sequence, p.issued_at + shift)
                out.append({**body, "issued_at": moved.issued_at,
                            "signature": "0x" + chain.oml.sign_permission(key, moved).hex()})
            return out
        return permissions

    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url) as (url, _):
        for shift, key, why in ((86_400, signer_key, "ahead of this gateway's clock"),
                                (-400 * 86_400, signer_key, "before the license began"),
                                (0, b"\x42" * 32, "not the model's permission signer")):
            monkeypatch.setattr(PermissionSource, "permissions", tampered(shift, key))
            response = httpx.post(url + "/v1/chat/completions", json={"messages": MESSAGES, "max_tokens": 2},
                                  timeout=60)
            assert response.status_code == 503 and response.json()["error"] == "untrusted_permission", response.text
            assert why in response.json()["detail"]
        monkeypatch.setattr(PermissionSource, "permissions", real)
        assert httpx.post(url + "/v1/chat/completions", json={"messages": MESSAGES, "max_tokens": 2},
                          timeout=60).status_code == 200
        assert "oml_host_permission_untrusted_total 3" in httpx.get(url + "/metrics", timeout=10).text
