"""Verifier settings, from the environment (prefix OML_VERIFIER_) or passed in by tests."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from eth_account import Account
from eth_utils import is_address, to_checksum_address
from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split(value):
    # env vars carry lists as "a,b,c"; the CLI and tests pass real lists
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OML_VERIFIER_", extra="ignore")

    key: SecretStr  # this verifier's private key (hex): signs attestations, opens and executes claims
    deployment: Path  # deployment JSON (oml deploy)
    rpc_url: str | None = None  # defaults to the deployment's rpcUrl
    permission_url: str  # the permission service, asked for σ as role "verifier"
    peers: Annotated[list[str], NoDecode] = []  # base URLs of the other verifiers
    provers: Annotated[list[str], NoDecode] = []  # addresses allowed to hand in transcripts
    database_url: str = "sqlite:///oml-verifier.db"
    poll_interval_s: float = 2.0
    request_timeout_s: float = 30.0
    retry_max_s: float = 60.0  # ceiling of the back-off after a failed chain or service call
    max_body_bytes: int = 1 << 20  # larger request bodies are refused (413); a transcript is a few KiB

    @field_validator("key")
    @classmethod
    def _key_is_a_private_key(cls, value: SecretStr) -> SecretStr:
        try:
            Account.from_key(value.get_secret_value())
        except (ValueError, TypeError):
            raise ValueError("key must be a 32-byte hex private key") from None
        return value

    @field_validator("peers", mode="before")
    @classmethod
    def _peer_list(cls, value):
        return [url.rstrip("/") for url in _split(value)]

    @field_validator("provers", mode="before")
    @classmethod
    def _prover_list(cls, value):
        addresses = _split(value)
        for address in addresses:
            if not is_address(address):
                raise ValueError(f"{address!r} is not an address")
        return [to_checksum_address(a) for a in addresses]

    @field_validator("poll_interval_s", "request_timeout_s", "retry_max_s", "max_body_bytes")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be > 0")
        return value

    @property
    def key_bytes(self) -> bytes:
        return bytes.fromhex(self.key.get_secret_value().removeprefix("0x"))

    @property
    def address(self) -> str:
        return Account.from_key(self.key_bytes).address
