"""Service settings, read from the environment (prefix OML_PERMISSION_) or passed in by tests."""
from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OML_PERMISSION_", extra="ignore")

    # SQLite (WAL) file by default; postgresql+psycopg://... in production.
    database_url: str = "sqlite:///oml-permission.db"
    # Deployment JSON (oml deploy); its chainId and ClaimManager / UsageSettlement addresses fix the
    # EIP-712 domains. Without it `chain_id` and the two addresses below must be given.
    deployment: Path | None = None
    rpc_url: str | None = None  # defaults to the deployment's rpcUrl
    chain_id: int | None = None
    claim_manager: str | None = None
    usage_settlement: str | None = None

    # Signer: a hex private key, or an eth-account keystore file and its password.
    signer_key: SecretStr | None = None
    keystore: Path | None = None
    keystore_password: SecretStr | None = None

    # Sign-in: EIP-4361-style challenge, then a bearer token scoped to one license (hosts).
    service_domain: str = "oml-permission"
    challenge_ttl_s: int = 300
    # Challenges are open to anyone and each one is a database row: limited per address and per
    # client IP. Generous, since every service of a local network signs in from 127.0.0.1.
    challenge_per_minute: float = 120.0
    challenge_burst: int = 60
    client_challenge_per_minute: float = 600.0
    client_challenge_burst: int = 200
    token_ttl_s: int = 3600

    max_batch: int = 256          # queries in one POST /v1/permissions/batch
    epoch_seconds: int = 86_400   # usage epochs: floor(issuedAt / epoch_seconds)
    group_commit_max: int = 512   # σ requests the writer commits in one transaction
    # Set by `serve --workers N` for its workers: the Unix socket of the one σ writer process.
    writer_socket: str | None = None

    # Settler: a funded key (hex) that pays the gas of `settle` for each license whose host asked
    # to exit, so its last voucher is settled (from escrow, then stake) before its unbonding ends
    # and the host can take its stake. Optional: without it the service logs a WARNING per exit,
    # and someone else must settle (`oml permission settle`). Not the signer key.
    settler_key: SecretStr | None = None
    settle_retry_initial_s: float = 2.0
    settle_retry_max_s: float = 120.0

    # Chain mirror: poll eth_getLogs, apply only blocks `confirmations` deep.
    mirror: bool = True
    confirmations: int = 2
    poll_interval_s: float = 2.0
    log_chunk_blocks: int = 2_000
