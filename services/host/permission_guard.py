"""The gateway checks every σ before it serves under it.

A receipt says "served at t under this σ", and the host is cleared only if the chain accepts
that σ for that time. The permission service is the owners', and owners gain from slashes: a σ
dated before the license began, dated ahead of the gateway's clock (the receipt would then be
stamped in the future, which no σ can clear), or signed by a key that is not the model's
permission signer would leave an honest host with receipts it cannot defend. So the gateway
refuses to serve under such a σ (503, logged as an error an operator alerts on) rather than sign
a receipt for it.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from oml_core import typed_data as td
from services.permission.client import permission_of


class UntrustedPermission(Exception):
    """The σ the permission service returned would not clear this host on chain."""


class PermissionGuard:
    def __init__(self, oml, license_id: int, clock: Callable[[], float], margin_s: float,
                 refresh_s: float = 30.0):
        """`margin_s`: how far ahead of the gateway's clock a σ may be dated (keep it below the
        ClaimManager's clock skew, so that receipts are never stamped past it)."""
        license = oml.license(license_id)
        self.oml, self.license_id, self.clock, self.margin_s = oml, license_id, clock, margin_s
        self.model_id, self.start = license["modelId"], oml.license_start(license_id)
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._read_signer()

    @classmethod
    def of(cls, oml, license_id: int, clock: Callable[[], float]) -> PermissionGuard:
        clock_skew = oml.claim_config()[0]
        return cls(oml, license_id, clock, margin_s=clock_skew / 2)

    def check(self, body: dict, query_hash: bytes) -> None:
        """UntrustedPermission unless `body` is a σ for this license and query, issued in
        [license start, now + margin], signed by the model's permission signer in force."""
        try:
            permission = permission_of(body)
            signer = td.recover_signer(permission.digest(self.oml.permission_domain),
                                       bytes.fromhex(str(body["signature"]).removeprefix("0x")))
        except (KeyError, TypeError, ValueError) as exc:
            raise UntrustedPermission(f"malformed σ: {exc}") from None
        if permission.license_id != self.license_id or permission.query_hash != query_hash:
            raise UntrustedPermission("σ for another license or query")
        if permission.issued_at < self.start:
            raise UntrustedPermission(f"σ issued at {permission.issued_at}, before the license began ({self.start})")
        latest = self.clock() + self.margin_s
        if permission.issued_at > latest:
            raise UntrustedPermission(f"σ dated {permission.issued_at}, ahead of this gateway's clock by more "
                                      f"than {self.margin_s:.0f} s")
        if not self._is_signer(signer):
            raise UntrustedPermission(f"σ signed by {signer}, not the model's permission signer")

    def _is_signer(self, signer: str) -> bool:
        """Against the signer in force, re-read from the chain when it differs (a rotation) at most
        every `refresh_s`."""
        with self._lock:
            if signer != self._signer and time.monotonic() - self._read_at >= self.refresh_s:
                self._read_signer()
            return signer == self._signer

    def _read_signer(self) -> None:
        self._signer = self.oml.registry.functions.permissionSigner(self.model_id).call()
        self._read_at = time.monotonic()
