from __future__ import annotations

import json

import pytest

from oml_core.fingerprint.generate import generate_fingerprints
from oml_core.fingerprint.record import write_jsonl
from oml_core.fingerprint.secrets_store import (
    KEY_ENV,
    SecretsError,
    decrypt_fingerprints,
    encrypt_fingerprints,
    load_fingerprints,
)

FAST_SCRYPT = 2**10  # the default 2**15 is for real files; tests only need the code path


@pytest.fixture(scope="module")
def fps():
    return generate_fingerprints("english_random", 5, seed=3)


def test_passphrase_round_trip_and_wrong_passphrase(fps, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    path = encrypt_fingerprints(fps, tmp_path / "fps.enc", passphrase="correct horse", scrypt_n=FAST_SCRYPT)
    text = path.read_text()
    assert all(fp.key not in text and fp.salt.hex() not in text for fp in fps)
    assert decrypt_fingerprints(path, passphrase="correct horse") == fps
    assert load_fingerprints(path, "correct horse") == fps
    with pytest.raises(SecretsError, match="wrong key"):
        decrypt_fingerprints(path, passphrase="wrong horse")
    with pytest.raises(SecretsError, match="passphrase"):
        decrypt_fingerprints(path)


def test_env_key_round_trip_and_tampering(fps, tmp_path, monkeypatch):
    monkeypatch.delenv("OML_FINGERPRINT_PASSPHRASE", raising=False)
    monkeypatch.setenv(KEY_ENV, "11" * 32)
    path = encrypt_fingerprints(fps, tmp_path / "fps.enc")
    assert decrypt_fingerprints(path) == fps
    monkeypatch.setenv(KEY_ENV, "22" * 32)
    with pytest.raises(SecretsError, match="wrong key"):
        decrypt_fingerprints(path)
    monkeypatch.setenv(KEY_ENV, "11" * 32)
    doc = json.loads(path.read_text())
    doc["count"] = 99  # the header is authenticated too
    path.write_text(json.dumps(doc))
    with pytest.raises(SecretsError, match="altered"):
        decrypt_fingerprints(path)
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(SecretsError, match="64 hex"):
        encrypt_fingerprints(fps, tmp_path / "x.enc")


def test_no_key_no_file(fps, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv("OML_FINGERPRINT_PASSPHRASE", raising=False)
    with pytest.raises(SecretsError, match="needs a passphrase"):
        encrypt_fingerprints(fps, tmp_path / "x.enc")
    assert not (tmp_path / "x.enc").exists()


def test_plain_files_load_too(fps, tmp_path):
    assert load_fingerprints(write_jsonl(tmp_path / "plain.jsonl", fps)) == fps
