"""Helpers of the host gateway tests: a gateway served by uvicorn in a thread, fingerprints,
a patient sign-in (the permission service mirrors new licenses from the chain a moment later)."""
from __future__ import annotations

import secrets
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from oml_core.chain.anvil import free_port
from oml_core.fingerprint.record import Fingerprint
from services.host.app import create_app
from services.host.config import HostSettings
from services.host.gateway import build_gateway
from services.permission.client import PermissionClient, ServiceError


def fingerprints(n: int, tag: str = "") -> list[Fingerprint]:
    return [Fingerprint(f"zebra lantern {tag}{i} {secrets.token_hex(4)} marble", f"cobalt answer {i}")
            for i in range(n)]


@contextmanager
def serve_app(app):
    """Runs `app` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def gateway(chain, model_dir: Path, generator, tmp_path: Path, license_id: int, host_key: str,
            permission_url: str, watch: bool = False, **overrides):
    """An in-process gateway (shared tiny model) for one license, signing receipts (it knows the
    deployment); the claim watcher runs when `watch`. Yields (url, Gateway)."""
    settings = HostSettings(model=model_dir, license_id=license_id, permission_url=permission_url,
                            host_key=host_key, database_url=f"sqlite:///{tmp_path}/host-{license_id}.db",
                            deployment=chain.deployment_path, **overrides)
    gw = build_gateway(settings, generator=generator, watch=watch)
    with serve_app(create_app(gw)) as url:
        yield url, gw


def signed_in(url: str, key: str | bytes, role: str, license_id: int | None = None,
              timeout: float = 15.0) -> PermissionClient:
    """A PermissionClient signed in, retrying while the service has not mirrored the license yet."""
    key = bytes.fromhex(key.removeprefix("0x")) if isinstance(key, str) else key
    client = PermissionClient(httpx.Client(base_url=url, timeout=30))
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.sign_in(key, role, license_id)
            return client
        except ServiceError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
