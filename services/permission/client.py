"""A small Python client of the permission service, for hosts, verifiers, the CLI and tests.

Works over any httpx.Client (FastAPI's TestClient is one), so tests and production share it.
"""
from __future__ import annotations

from typing import Any

import httpx

from oml_core import typed_data as td
from services.permission.auth import personal_sign_digest


class ServiceError(RuntimeError):
    """A 4xx/5xx from the service, with its error code."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class PermissionClient:
    def __init__(self, http: httpx.Client, token: str | None = None):
        self.http, self.token = http, token

    def _call(self, method: str, path: str, **kwargs) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
                code, detail = body.get("error", "error"), body.get("detail", response.text)
            except ValueError:
                code, detail = "error", response.text
            raise ServiceError(response.status_code, code, str(detail))
        return response.json()

    # ------------------------------------------------------------------ sign-in

    def challenge(self, role: str, address: str, license_id: int | None = None) -> dict:
        return self._call("POST", "/v1/auth/challenge",
                          json={"role": role, "address": address, "license_id": license_id})

    def sign_in(self, private_key: bytes, role: str, license_id: int | None = None) -> dict:
        """Challenge, personal_sign, token; the token is kept for later calls."""
        from eth_account import Account

        challenge = self.challenge(role, Account.from_key(private_key).address, license_id)
        signature = td.sign_digest(personal_sign_digest(challenge["message"]), private_key)
        token = self._call("POST", "/v1/auth/token",
                           json={"nonce": challenge["nonce"], "signature": _hex(signature)})
        self.token = token["token"]
        return token

    # ------------------------------------------------------------------ σ and books

    def permission(self, license_id: int, query_hash: bytes) -> dict:
        return self._call("POST", "/v1/permissions",
                          json={"license_id": license_id, "query_hash": _hex(query_hash)})

    def permissions(self, license_id: int, query_hashes: list[bytes]) -> list[dict]:
        body = {"license_id": license_id, "query_hashes": [_hex(q) for q in query_hashes]}
        return self._call("POST", "/v1/permissions/batch", json=body)["permissions"]

    def lookup(self, license_id: int, query_hash: bytes) -> dict:
        return self._call("GET", f"/v1/licenses/{license_id}/permissions/{_hex(query_hash)}")

    def license(self, license_id: int) -> dict:
        return self._call("GET", f"/v1/licenses/{license_id}")

    def usage(self, license_id: int) -> dict:
        return self._call("GET", f"/v1/licenses/{license_id}/usage")

    def sign_voucher(self, license_id: int) -> dict:
        return self._call("POST", f"/v1/licenses/{license_id}/vouchers")

    def sign_closure(self, license_id: int) -> dict:
        """The UsageClosure of the host's exiting, fully settled license (409 otherwise)."""
        return self._call("POST", f"/v1/licenses/{license_id}/closure")

    def latest_voucher(self, license_id: int) -> dict:
        return self._call("GET", f"/v1/licenses/{license_id}/vouchers/latest")

    def proof(self, license_id: int, sequence: int, voucher: int | None = None) -> dict:
        params = {} if voucher is None else {"voucher": voucher}
        return self._call("GET", f"/v1/licenses/{license_id}/proofs/{sequence}", params=params)


def permission_of(body: dict) -> td.Permission:
    """The typed σ from a PermissionOut body (to verify it, or to refute a claim with it)."""
    return td.Permission(int(body["license_id"]), bytes.fromhex(body["query_hash"][2:]),
                         int(body["sequence"]), int(body["issued_at"]))


def closure_of(body: dict) -> tuple[td.UsageClosure, bytes]:
    return td.UsageClosure(int(body["license_id"]), int(body["cumulative_queries"])), \
        bytes.fromhex(body["signature"][2:])


def voucher_of(body: dict) -> tuple[td.UsageVoucher, bytes]:
    voucher = td.UsageVoucher(int(body["license_id"]), int(body["cumulative_queries"]),
                              int(body["cumulative_fee"]), bytes.fromhex(body["usage_root"][2:]))
    return voucher, bytes.fromhex(body["signature"][2:])
