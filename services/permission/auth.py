"""Sign-in: an EIP-4361-style challenge signed with the account's key (EIP-191 personal_sign),
exchanged once for a short-lived bearer token.

Hosts sign in for one license and must be that license's host (as mirrored from chain); their
token is scoped to that license. Verifiers must be active in the VerifierRegistry at sign-in.
Each nonce is consumed by an UPDATE ... WHERE used = false, so a signed challenge works once,
even with several replicas on one database.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_utils import keccak, to_checksum_address
from sqlalchemy import delete, insert, select, update

from oml_core import typed_data as td
from services.common.database import Database
from services.permission.db.models import Challenge, License, Token
from services.permission.errors import Refused, unknown_license

HOST, VERIFIER = "host", "verifier"


@dataclass(frozen=True)
class Principal:
    """Who a bearer token speaks for."""

    role: str
    address: str
    license_id: int | None  # hosts only

    def may_read(self, license_id: int) -> bool:
        return self.role == VERIFIER or self.license_id == license_id


def personal_sign_digest(message: str) -> bytes:
    """EIP-191 version 0x45 digest, what wallets sign for `personal_sign`."""
    data = message.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def challenge_message(domain: str, address: str, role: str, license_id: int | None, chain_id: int,
                      nonce: str, issued_at: int, expires_at: int) -> str:
    subject = f"host of license {license_id}" if role == HOST else "verifier"
    lines = [f"{domain} wants you to sign in with your Ethereum account:", address, "",
             f"Sign in to the OML permission service as {subject}.", "",
             f"URI: oml://{domain}", "Version: 1", f"Chain ID: {chain_id}", f"Nonce: {nonce}",
             f"Issued At: {_iso(issued_at)}", f"Expiration Time: {_iso(expires_at)}"]
    if role == HOST:
        lines += ["Resources:", f"- oml:license:{license_id}"]
    return "\n".join(lines)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


TOKEN_CACHE_MAX = 100_000  # tokens remembered in memory per process
VERIFIER_RECHECK_S = 30    # a verifier's token dies within this long of it leaving the registry


def _invalid_token() -> Refused:
    return Refused(401, "invalid_token", "unknown or expired token: sign in again")


class Authenticator:
    def __init__(self, db: Database, domain: str, chain_id: int, challenge_ttl: int, token_ttl: int,
                 is_active_verifier: Callable[[str], bool], clock: Callable[[], float]):
        self.db, self.domain, self.chain_id = db, domain, chain_id
        self.challenge_ttl, self.token_ttl = challenge_ttl, token_ttl
        self.is_active_verifier, self.clock = is_active_verifier, clock
        # token hash -> (principal, expires_at). A token row never changes after it is written and
        # is only ever deleted once expired, so a row seen once (here or by sign_in) can be
        # answered from memory until it expires; a token this process has not seen (issued by
        # another replica) is looked up in the database. Unknown tokens are never cached.
        self._tokens: dict[bytes, tuple[Principal, int]] = {}
        self._tokens_lock = threading.Lock()
        self._verifier_checked: dict[str, float] = {}  # address -> when it was last seen active

    def _remember(self, key: bytes, principal: Principal, expires_at: int) -> None:
        with self._tokens_lock:
            if len(self._tokens) >= TOKEN_CACHE_MAX:
                now = int(self.clock())
                self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
                if len(self._tokens) >= TOKEN_CACHE_MAX:
                    self._tokens.clear()  # only a cache: the database still has every token
            self._tokens[key] = (principal, expires_at)

    def cached_principal(self, token: str) -> Principal | None:
        """The token's principal from memory (no database), None when this process has not seen
        the token yet; raises 401 for a token it knows to have expired."""
        key = token_hash(token)
        entry = self._tokens.get(key)
        if entry is None:
            return None
        principal, expires_at = entry
        if expires_at <= int(self.clock()):
            self._tokens.pop(key, None)
            raise _invalid_token()
        return principal

    def _check_host(self, session, address: str, license_id: int) -> None:
        host = session.execute(select(License.host).where(License.license_id == license_id)).scalar()
        if host is None:
            raise unknown_license(license_id)
        if to_checksum_address(host) != address:
            raise Refused(403, "not_license_host", f"{address} is not the host of license {license_id}")

    def _check_verifier(self, address: str) -> None:
        try:
            active = self.is_active_verifier(address)
        except Exception as exc:  # noqa: BLE001  RPC node down or slow: a retryable 503, not a 500
            raise Refused(503, "chain_unavailable", f"cannot reach the VerifierRegistry: {exc}") from None
        if not active:
            raise Refused(403, "not_active_verifier", f"{address} is not an active verifier")

    def challenge(self, role: str, address: str, license_id: int | None) -> Challenge:
        address = to_checksum_address(address)
        if role == HOST and license_id is None:  # the API's ChallengeIn already refuses this
            raise ValueError("a host signs in for one license")
        now = int(self.clock())
        if role == HOST:
            with self.db.read() as session:
                self._check_host(session, address, license_id)
        else:
            self._check_verifier(address)
            license_id = None
        nonce = secrets.token_hex(16)
        expires_at = now + self.challenge_ttl
        row = {"nonce": nonce, "role": role, "address": address, "license_id": license_id, "used": False,
               "expires_at": expires_at,
               "message": challenge_message(self.domain, address, role, license_id, self.chain_id,
                                            nonce, now, expires_at)}
        with self.db.write() as session:
            # expired challenges are of no use to anyone: prune them as we go
            session.execute(delete(Challenge).where(Challenge.expires_at < now - self.challenge_ttl))
            session.execute(insert(Challenge).values(**row))
        return Challenge(**row)

    def sign_in(self, nonce: str, signature: bytes) -> tuple[str, Principal, int]:
        """Consume the challenge, check its signature; returns (token, principal, expiresAt)."""
        now = int(self.clock())
        with self.db.write() as session:
            consumed = session.execute(
                update(Challenge).where(Challenge.nonce == nonce, Challenge.used.is_(False),
                                        Challenge.expires_at > now).values(used=True))
            challenge = session.get(Challenge, nonce)
            if consumed.rowcount != 1:
                # Nothing changes in the database, so the transaction can commit as is.
                if challenge is None:
                    raise Refused(401, "unknown_nonce", "no such challenge")
                if challenge.used:
                    raise Refused(401, "nonce_used", "this challenge was already used")
                raise Refused(401, "challenge_expired", "this challenge has expired")
        # The nonce is spent even when what follows fails: a challenge gets exactly one try.
        try:
            signer = td.recover_signer(personal_sign_digest(challenge.message), signature)
        except ValueError as exc:
            raise Refused(401, "bad_signature", str(exc)) from None
        if signer != challenge.address:
            raise Refused(401, "bad_signature", f"signature is by {signer}, not {challenge.address}")
        if challenge.role == HOST:
            with self.db.read() as session:  # the license may have changed hands since
                self._check_host(session, challenge.address, challenge.license_id)
        else:
            self._check_verifier(challenge.address)
            self._verifier_checked[challenge.address] = self.clock()
        token = "omlp_" + secrets.token_urlsafe(32)
        expires_at = now + self.token_ttl
        principal = Principal(challenge.role, challenge.address, challenge.license_id)
        with self.db.write() as session:
            session.execute(delete(Token).where(Token.expires_at < now))
            session.execute(insert(Token).values(token_hash=token_hash(token), role=principal.role,
                                                 address=principal.address,
                                                 license_id=principal.license_id,
                                                 expires_at=expires_at))
        self._remember(token_hash(token), principal, expires_at)  # after COMMIT only
        return token, principal, expires_at

    def verifier_recheck_due(self, who: Principal) -> bool:
        """Whether a verifier's standing must be read from the chain again before it is served."""
        return who.role == VERIFIER and self.clock() - self._verifier_checked.get(who.address, -1e18) >= VERIFIER_RECHECK_S

    def recheck_verifier(self, who: Principal) -> None:
        """Revocation: a verifier that left (or was penalized out of) the registry loses every
        token at once, here and in the database, instead of keeping them until they expire."""
        try:
            self._check_verifier(who.address)
        except Refused as refused:
            if refused.status != 403:
                raise
            with self.db.write() as session:
                session.execute(delete(Token).where(Token.address == who.address, Token.role == VERIFIER))
            with self._tokens_lock:
                self._tokens = {k: v for k, v in self._tokens.items()
                                if not (v[0].role == VERIFIER and v[0].address == who.address)}
            raise Refused(401, "verifier_inactive", f"{who.address} is no longer an active verifier: "
                                                    "its tokens are revoked") from None
        self._verifier_checked[who.address] = self.clock()

    def authenticate(self, token: str) -> Principal:
        cached = self.cached_principal(token)
        if cached is not None:
            return cached
        key = token_hash(token)
        with self.db.read() as session:
            row = session.get(Token, key)
        if row is None or row.expires_at <= int(self.clock()):
            raise _invalid_token()
        principal = Principal(row.role, row.address, row.license_id)
        self._remember(key, principal, row.expires_at)
        return principal
