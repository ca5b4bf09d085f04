"""Service-to-service requests signed with the caller's Ethereum key (EIP-191 personal_sign).

Provers sign the transcripts they hand to verifiers; verifiers sign the attestation requests they
send to their peers; hosts sign their download requests. The signed text binds the method, the
path, a hash of the body, a timestamp and a nonce:

    OML signed request\n{METHOD}\n{path}\n{keccak(body) hex}\n{timestamp}\n{nonce}

The receiver checks the signature, that the timestamp is within `max_skew_s` of its clock, that
the nonce was not seen in that window (replay protection), and then asks its own policy whether
the recovered address may call the route.

The body's hash also travels as a header (X-OML-Body-Hash), so that a receiver can authenticate
a request from its headers alone (`verify_headers`) before it reads a byte of the body, and then
check the body it reads against the hash that was signed.
"""
from __future__ import annotations

import heapq
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from oml_core import typed_data as td

ADDRESS_HEADER = "X-OML-Address"
TIMESTAMP_HEADER = "X-OML-Timestamp"
NONCE_HEADER = "X-OML-Nonce"
SIGNATURE_HEADER = "X-OML-Signature"
BODY_HASH_HEADER = "X-OML-Body-Hash"


class SignedRequestError(ValueError):
    """Why a signed request was refused (the receiver answers 401 or 403 with this text)."""

    def __init__(self, reason: str, status: int = 401):
        super().__init__(reason)
        self.status = status


def _digest(message: str) -> bytes:
    data = message.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def request_text(method: str, path: str, body: bytes, timestamp: int, nonce: str) -> str:
    return _text(method, path, keccak(body), timestamp, nonce)


def _text(method: str, path: str, body_hash: bytes, timestamp: int, nonce: str) -> str:
    return "\n".join(["OML signed request", method.upper(), path, body_hash.hex(), str(timestamp), nonce])


def sign_headers(private_key: bytes | str, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    """Headers that authenticate one request from the holder of `private_key`."""
    key = bytes.fromhex(private_key.removeprefix("0x")) if isinstance(private_key, str) else private_key
    timestamp, nonce = int(time.time()), secrets.token_hex(16)
    signature = td.sign_digest(_digest(request_text(method, path, body, timestamp, nonce)), key)
    return {ADDRESS_HEADER: Account.from_key(key).address, TIMESTAMP_HEADER: str(timestamp),
            NONCE_HEADER: nonce, SIGNATURE_HEADER: "0x" + signature.hex(),
            BODY_HASH_HEADER: "0x" + keccak(body).hex()}


@dataclass(frozen=True)
class SignedHeaders:
    """A request authenticated from its headers: its caller, and the hash of the body it signed."""

    signer: str
    body_hash: bytes

    def check_body(self, body: bytes) -> None:
        if keccak(body) != self.body_hash:
            raise SignedRequestError(f"the body is not the one signed (its hash is not {BODY_HASH_HEADER})")


class NonceWindow:
    """The nonces of accepted requests, each kept until its request's timestamp leaves the
    acceptance window (from then on the timestamp alone refuses a replay). A nonce is never
    forgotten early: once `capacity` live nonces are held, new requests are refused (429) until
    some expire, so that a flood of requests cannot make an earlier one replayable."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._live: set[str] = set()
        self._expiries: list[tuple[int, str]] = []  # heap of (last second it is replayable, token)
        self._lock = threading.Lock()

    def add(self, token: str, replayable_until: int, now: int) -> None:
        with self._lock:
            while self._expiries and self._expiries[0][0] < now:
                self._live.discard(heapq.heappop(self._expiries)[1])
            if token in self._live:
                raise SignedRequestError("replayed request (nonce already used)")
            if len(self._live) >= self.capacity:
                retry = self._expiries[0][0] - now + 1
                raise SignedRequestError(f"{len(self._live)} signed requests in the replay window, the most "
                                         f"this service remembers: try again in {retry} s", status=429)
            self._live.add(token)
            heapq.heappush(self._expiries, (replayable_until, token))


class RequestVerifier:
    """Checks signed requests; `allowed(address)` is the receiver's policy (allowlist, registry).

    Nonces live in memory, so a restart forgets them: requests signed before this verifier was
    made are refused (timestamps are whole seconds, hence the second of slack)."""

    def __init__(self, allowed: Callable[[str], bool], max_skew_s: int = 120, max_nonces: int = 100_000):
        self.allowed, self.max_skew_s, self.max_nonces = allowed, max_skew_s, max_nonces
        self._nonces = NonceWindow(max_nonces)
        self._not_before = int(time.time()) - 1

    def verify(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> str:
        """The caller's checksummed address, or SignedRequestError."""
        return self._authenticate(method, path, keccak(body), headers)

    def verify_headers(self, method: str, path: str, headers: Mapping[str, str]) -> SignedHeaders:
        """Authenticates a request before its body is read, from the body hash in its headers;
        the caller then reads the body (bounded) and checks it with `check_body`."""
        try:
            body_hash = bytes.fromhex(headers[BODY_HASH_HEADER].removeprefix("0x"))
        except (KeyError, ValueError) as exc:
            raise SignedRequestError(f"missing or malformed {BODY_HASH_HEADER} header ({exc})") from None
        if len(body_hash) != 32:
            raise SignedRequestError(f"{BODY_HASH_HEADER} must be 32 bytes of hex")
        return SignedHeaders(self._authenticate(method, path, body_hash, headers), body_hash)

    def _authenticate(self, method: str, path: str, body_hash: bytes, headers: Mapping[str, str]) -> str:
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
        if timestamp < self._not_before:
            raise SignedRequestError(f"timestamp {timestamp} is from before this service started: sign again")
        try:
            signer = td.recover_signer(_digest(_text(method, path, body_hash, timestamp, nonce)), signature)
        except (ValueError, TypeError):
            raise SignedRequestError("signature does not recover") from None
        if signer != claimed:
            raise SignedRequestError("signature is not by the address in X-OML-Address")
        if not self.allowed(signer):
            raise SignedRequestError(f"{signer} may not call this route", status=403)
        self._nonces.add(f"{signer}:{nonce}", timestamp + self.max_skew_s, now)
        return signer
