"""Asks the permission service which σ it issued for (license, queryHash), signed in as a
verifier. Only its explicit "no σ" (404 no_permission) means none; anything else, including a
license its chain mirror has not seen yet, is `Unavailable`."""
from __future__ import annotations

import threading

import httpx

from services.permission.client import PermissionClient, ServiceError
from services.verifier.verdicts import Unavailable

VERIFIER_ROLE = "verifier"


class PermissionLookup:
    def __init__(self, http: httpx.Client, verifier_key: bytes):
        self.client = PermissionClient(http)
        self._key = verifier_key
        self._lock = threading.Lock()

    def permissions(self, license_id: int, query_hash: bytes) -> list[dict]:
        """Every σ issued for the query (PermissionOut bodies, by sequence); [] when none."""
        for attempt in range(2):
            try:
                self._ensure_signed_in()
                body = self.client.lookup(license_id, query_hash)
                permissions = body.get("permissions") if isinstance(body, dict) else None
                if not isinstance(permissions, list):
                    raise Unavailable("permission service: malformed lookup answer")
                return [p for p in permissions if isinstance(p, dict)]
            except ServiceError as exc:
                if exc.status == 404 and exc.code == "no_permission":
                    return []
                if exc.status == 401 and attempt == 0:  # the token expired: sign in again once
                    self.client.token = None
                    continue
                raise Unavailable(f"permission service: {exc}") from None
            except httpx.HTTPError as exc:
                raise Unavailable(f"permission service unreachable ({type(exc).__name__}: {exc})") from None
        raise Unavailable("permission service refused a fresh verifier token")

    def _ensure_signed_in(self) -> None:
        with self._lock:
            if self.client.token is None:
                self.client.sign_in(self._key, VERIFIER_ROLE)
