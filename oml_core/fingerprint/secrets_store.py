"""The secret fingerprint file at rest: AES-256-GCM over the JSONL bytes.

The key is either OML_FINGERPRINT_KEY (64 hex characters, a raw 256-bit key) or derived from a
passphrase with scrypt (salt and cost parameters stored in the file). The header is
authenticated as GCM associated data, so tampering with it fails decryption like a wrong key.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from oml_core.fingerprint.record import Fingerprint

FORMAT = "oml-fingerprints-aesgcm-v1"
KEY_ENV = "OML_FINGERPRINT_KEY"
PASSPHRASE_ENV = "OML_FINGERPRINT_PASSPHRASE"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


class SecretsError(ValueError):
    """Wrong key or passphrase, a corrupted file, or no key given."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _env_key() -> bytes | None:
    raw = os.environ.get(KEY_ENV)
    if not raw:
        return None
    try:
        key = bytes.fromhex(raw.removeprefix("0x"))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SecretsError(f"{KEY_ENV} must be 64 hex characters (a 256-bit key)")
    return key


def _passphrase(passphrase: str | None) -> str | None:
    return passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)


def encrypt_fingerprints(fps: list[Fingerprint], path: str | Path, passphrase: str | None = None,
                         key: bytes | None = None, scrypt_n: int = SCRYPT_N) -> Path:
    """Write `fps` encrypted; key: `key`, else the passphrase (argument or env), else OML_FINGERPRINT_KEY."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header: dict = {"format": FORMAT, "count": len(fps)}
    passphrase = _passphrase(passphrase)
    if key is None and passphrase:
        salt = secrets.token_bytes(16)
        header["kdf"] = {"name": "scrypt", "salt": _b64(salt), "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P}
        key = _scrypt(passphrase, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    elif key is None:
        key = _env_key()
        header["kdf"] = {"name": "raw"}
    else:
        header["kdf"] = {"name": "raw"}
    if key is None or len(key) != 32:
        raise SecretsError(f"encrypting fingerprints needs a passphrase ({PASSPHRASE_ENV}) or {KEY_ENV}")
    nonce = secrets.token_bytes(12)
    header["nonce"] = _b64(nonce)
    plaintext = "".join(json.dumps(fp.to_json(), ensure_ascii=False) + "\n" for fp in fps).encode()
    aad = json.dumps(header, sort_keys=True).encode()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, aad)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({**header, "ciphertext": _b64(ciphertext)}) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def is_encrypted(path: str | Path) -> bool:
    with Path(path).open("rb") as f:
        head = f.read(16)
    # json.dumps puts the header's first key first; a plain JSONL record starts with {"key".
    return head.startswith(b'{"format"')


def decrypt_fingerprints(path: str | Path, passphrase: str | None = None, key: bytes | None = None) -> list[Fingerprint]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        doc = json.loads(Path(path).read_text())
        if doc.get("format") != FORMAT:
            raise SecretsError(f"{path} is not an encrypted fingerprint file ({FORMAT})")
        ciphertext = base64.b64decode(doc.pop("ciphertext"))
        kdf, nonce = doc["kdf"], base64.b64decode(doc["nonce"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SecretsError(f"{path}: unreadable encrypted fingerprint file ({exc})") from None
    if key is None:
        if kdf["name"] == "scrypt":
            phrase = _passphrase(passphrase)
            if not phrase:
                raise SecretsError(f"{path} needs its passphrase ({PASSPHRASE_ENV})")
            key = _scrypt(phrase, base64.b64decode(kdf["salt"]), kdf["n"], kdf["r"], kdf["p"])
        else:
            key = _env_key()
            if key is None:
                raise SecretsError(f"{path} needs its key ({KEY_ENV})")
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, json.dumps(doc, sort_keys=True).encode())
    except (InvalidTag, ValueError):
        raise SecretsError(f"{path}: wrong key or passphrase, or the file was altered") from None
    return [Fingerprint.from_json(json.loads(line)) for line in plaintext.decode().splitlines() if line.strip()]


def load_fingerprints(path: str | Path, passphrase: str | None = None) -> list[Fingerprint]:
    """Plain JSONL or an encrypted file, whichever `path` is."""
    from oml_core.fingerprint.record import read_jsonl

    return decrypt_fingerprints(path, passphrase) if is_encrypted(path) else read_jsonl(path)
