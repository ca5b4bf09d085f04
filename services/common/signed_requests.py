"""Service-to-service requests signed with the caller's Ethereum key (EIP-191 personal_sign).

Provers sign the transcripts they hand to verifiers; verifiers sign the attestation requests they
send to their peers; hosts sign their download requests. The signed text binds the method, the
path, a hash of the body, a timestamp and a nonce:

    OML signed request\n{METHOD}\n{path}\n{keccak(body) hex}\n{timestamp}\n{nonce}

The receiver checks the signature, that the timestamp is within `max_skew_s` of its clock, that
the nonce was not seen in that window (replay protection), and then asks its own policy whether
the recovered address may call the route.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from oml_core import typed_data as td

ADDRESS_HEADER = "X-OML-Address"
TIMESTAMP_HEADER = "X-OML-Timestamp"
NONCE_HEADER = "X-OML-Nonce"
SIGNATURE_HEADER = "X-OML-Signature"


class SignedRequestError(ValueError):
    """Why a signed request was refused (the receiver answers 401 or 403 with this text)."""

    def __init__(self, reason: str, status: int = 401):
        super().__init__(reason)
        self.status = status


def _digest(message: str) -> bytes:
    data = message.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def request_text(method: str, path: str, body: bytes, timestamp: int, nonce: str) -> str:
    return "\n".join(["OML signed request", method.upper(), path, keccak(body).hex(), str(timestamp), nonce])


def sign_headers(private_key: bytes | str, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    """Headers that authenticate one request from the holder of `private_key`."""
    key = bytes.fromhex(private_key.removeprefix("0x")) if isinstance(private_key, str) else private_key
    timestamp, nonce = int(time.time()), secrets.token_hex(16)
    signature = td.sign_digest(_digest(request_text(method, path, body, timestamp, nonce)), key)
    return {ADDRESS_HEADER: Account.from_key(key).address, TIMESTAMP_HEADER: str(timestamp),
            NONCE_HEADER: nonce, SIGNATURE_HEADER: "0x" + signature.hex()}


class RequestVerifier:
    """Checks signed requests; `allowed(address)` is the receiver's policy (allowlist, registry)."""

    def __init__(self, allowed: Callable[[str], bool], max_skew_s: int = 120, max_nonces: int = 100_000):
        self.allowed, self.max_skew_s, self.max_nonces = allowed, max_skew_s, max_nonces
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, body: bytes, headers) -> str:
        """The caller's checksummed address, or SignedRequestError."""
        try:
            claimed = to_checksum_address(headers[ADDRESS_HEADER])
            timestamp, nonce = int(headers[TIMESTAMP_HEADER]), headers[NONCE_HEADER]
            signature = bytes.fromhex(headers[SIGNATURE_HEADER].removeprefix("0x"))
        except (KeyError, ValueError) as exc:
            raise SignedRequestError(f"missing or malformed signed-request headers ({exc})") from None
        if not 8 <= len(nonce) <= 64:
            raise SignedRequestError("nonce must be 8 to 64 characters")
        now = int(time.time())
        if abs(now - timestamp) > self.max_skew_s:
            raise SignedRequestError(f"timestamp {timestamp} is more than {self.max_skew_s} s from now")
        try:
            signer = td.recover_signer(_digest(request_text(method, path, body, timestamp, nonce)), signature)
        except (ValueError, TypeError):
            raise SignedRequestError("signature does not recover") from None
        if signer != claimed:
            raise SignedRequestError("signature is not by the address in X-OML-Address")
        if not self.allowed(signer):
            raise SignedRequestError(f"{signer} may not call this route", status=403)
        self._remember(f"{signer}:{nonce}", now)
        return signer

    def _remember(self, token: str, now: int) -> None:
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now - 2 * self.max_skew_s
                                  or len(self._seen) >= self.max_nonces):
                self._seen.popitem(last=False)
            if token in self._seen:
                raise SignedRequestError("replayed request (nonce already used)")
            self._seen[token] = now
