"""Gateway settings, from OML_HOST_* variables or passed in (CLI, tests, the demo)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class HostSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OML_HOST_", extra="ignore")

    model: Path                       # M.oml or any local HF checkpoint directory
    license_id: Annotated[int, Field(ge=0, lt=2**256)]
    permission_url: str
    # the license's host key (signs in for σ, refutes claims); from OML_HOST_KEY in the environment
    host_key: SecretStr = Field(validation_alias=AliasChoices("host_key", "oml_host_key"))
    # the license's receipt signer (signs every answer's receipt); default: the host key itself
    receipt_key: SecretStr | None = None
    deployment: Path | None = None    # with it, the claim watcher runs
    rpc_url: str | None = None        # defaults to the deployment's rpcUrl
    database_url: str = "sqlite:///oml-host.db"
    model_name: str = "oml"           # the name /v1/models reports
    device: str | None = None         # default: CUDA when present, else CPU

    batch_window_ms: Annotated[float, Field(ge=0, le=1000)] = 5.0
    max_batch: Annotated[int, Field(ge=1, le=256)] = 64
    max_tokens_cap: Annotated[int, Field(ge=1, le=8192)] = 256
    default_max_tokens: Annotated[int, Field(ge=1, le=8192)] = 128
    permission_timeout_s: Annotated[float, Field(gt=0)] = 30.0

    # Cheats, for the demo and the attack tests; an honest host leaves them at their defaults.
    skip_permission_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    system_prompt: str | None = None
    refuse_key_like: bool = False
    omit_receipts: bool = False       # answers carry no receipt (leaves no evidence; see docs/SECURITY.md)
    seed: int = 0

    watch_interval_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    log_chunk_blocks: Annotated[int, Field(ge=1)] = 2_000

    @field_validator("host_key", "receipt_key")
    @classmethod
    def _key_is_hex32(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        raw = value.get_secret_value().removeprefix("0x")
        if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
            raise ValueError("host_key and receipt_key must be 32-byte hex private keys")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HostSettings:
        if self.default_max_tokens > self.max_tokens_cap:
            raise ValueError("default_max_tokens must not exceed max_tokens_cap")
        if not self.model.is_dir():
            raise ValueError(f"model directory {self.model} does not exist")
        if self.deployment is not None and not self.deployment.is_file():
            raise ValueError(f"deployment file {self.deployment} does not exist")
        return self

    @property
    def key_bytes(self) -> bytes:
        return bytes.fromhex(self.host_key.get_secret_value().removeprefix("0x"))

    @property
    def receipt_key_bytes(self) -> bytes:
        key = self.receipt_key or self.host_key
        return bytes.fromhex(key.get_secret_value().removeprefix("0x"))
