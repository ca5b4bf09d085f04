"""Prover settings, from the environment (prefix OML_PROVER_) or passed in by tests and the demo."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProverSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OML_PROVER_", extra="ignore")

    # The prover's Ethereum key (hex): its address goes into transcripts and signs their delivery.
    # Only probing needs it; loading keys and reading the status do not.
    key: SecretStr | None = None
    # Seals the fingerprint keys and pending transcripts in the database (AES-GCM, scrypt).
    passphrase: SecretStr | None = None
    database_url: str = "sqlite:///oml-prover.db"
    verifier_urls: list[str] = []

    probe_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2  # share of queries that are probes
    mean_interval_s: Annotated[float, Field(gt=0.0)] = 5.0    # mean of the exponential gaps
    seed: int | None = None                                     # fixes schedule and benign prompts
    benign_prompts_file: Path | None = None                     # extra prompts, one per line

    request_timeout_s: Annotated[float, Field(gt=0.0)] = 60.0
    max_tokens: Annotated[int, Field(ge=1, le=4096)] = 64       # cap on a probe's answer length
    model: str = "oml"                                          # model name sent to hosts

    # Delivery to verifiers: rounds over all verifiers with doubling pauses, then the transcript
    # waits in the database for flush() (the daemon calls it between queries).
    delivery_rounds: Annotated[int, Field(ge=1, le=10)] = 2
    retry_backoff_s: Annotated[float, Field(ge=0.0)] = 0.5
    max_backoff_s: Annotated[float, Field(gt=0.0)] = 300.0

    @field_validator("key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                raw = bytes.fromhex(value.get_secret_value().removeprefix("0x"))
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ValueError("key must be a 32-byte private key in hex")
        return value

    @field_validator("verifier_urls")
    @classmethod
    def _urls_are_http(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"verifier URL {url!r} must start with http:// or https://")
        return [url.rstrip("/") for url in urls]

    def key_bytes(self) -> bytes | None:
        return None if self.key is None else bytes.fromhex(self.key.get_secret_value().removeprefix("0x"))
