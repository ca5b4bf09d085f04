"""Encryption at rest for the prover's database: AES-256-GCM under a key that scrypt derives from
the passphrase (OML_PROVER_PASSPHRASE). The scrypt salt and costs are stored in the database on
first use; a sealed check value makes a wrong passphrase a clear error instead of garbage later.

Each sealed blob is nonce (12 bytes) + ciphertext, with associated data that names the row it
belongs to, so a ciphertext copied into another row does not open.
"""
from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import select

from services.common.database import Database
from services.prover.db import SealParams
from services.prover.errors import WrongPassphrase

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_CHECK_PLAINTEXT, _CHECK_AAD = b"oml-prover-seal-check", b"seal_params"
NONCE_BYTES = 12


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


class Sealer:
    """Seals and opens blobs with the database's key."""

    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    @classmethod
    def for_database(cls, db: Database, passphrase: str | None) -> Sealer:
        """The sealer of `db`; the first call fixes its salt, later ones must bring the same passphrase."""
        if not passphrase:
            raise WrongPassphrase("the prover needs a passphrase to seal its keys (OML_PROVER_PASSPHRASE)")
        with db.write() as session:
            params = session.scalar(select(SealParams).where(SealParams.id == 1))
            if params is None:
                salt = secrets.token_bytes(16)
                sealer = cls(_derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))
                session.add(SealParams(id=1, salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                                       check=sealer.seal(_CHECK_PLAINTEXT, _CHECK_AAD)))
                return sealer
            sealer = cls(_derive(passphrase, params.salt, params.n, params.r, params.p))
            try:
                sealer.open(params.check, _CHECK_AAD)
            except InvalidTag:
                raise WrongPassphrase("wrong passphrase: the prover database was sealed with another "
                                      "one (OML_PROVER_PASSPHRASE)") from None
            return sealer

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """The plaintext; InvalidTag when the key or the associated data do not fit."""
        return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
