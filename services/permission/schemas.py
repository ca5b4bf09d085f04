"""Request and response bodies (pydantic v2). Hashes and signatures travel as 0x-hex strings;
uint256 values as JSON integers."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", examples=["0x" + "ab" * 32])]
HexSignature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
LicenseId = Annotated[int, Field(ge=0, lt=2**256)]


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


class ErrorOut(BaseModel):
    error: str
    detail: str


class ChallengeIn(BaseModel):
    role: Literal["host", "verifier"]
    address: Address
    license_id: LicenseId | None = Field(None, description="Required for hosts: the token's scope.")

    @model_validator(mode="after")
    def _host_needs_license(self) -> ChallengeIn:
        if self.role == "host" and self.license_id is None:
            raise ValueError("a host signs in for one license: give license_id")
        return self


class ChallengeOut(BaseModel):
    nonce: str
    message: str = Field(description="Sign this text with personal_sign (EIP-191).")
    expires_at: int


class TokenIn(BaseModel):
    nonce: Annotated[str, Field(min_length=1, max_length=64)]
    signature: HexSignature


class TokenOut(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    role: str
    address: str
    license_id: int | None
    expires_at: int


class PermissionIn(BaseModel):
    license_id: LicenseId
    query_hash: Hex32


class PermissionBatchIn(BaseModel):
    license_id: LicenseId
    # the service's MAX_BATCH (413 above it) is lower; this bound only stops absurd bodies early
    query_hashes: Annotated[list[Hex32], Field(min_length=1, max_length=4096)]


class PermissionOut(BaseModel):
    """σ(q): the EIP-712 Permission, its signature, and the usage leaf it adds."""

    license_id: int
    query_hash: str
    sequence: int
    issued_at: int
    epoch: int
    signature: str
    signer: str
    leaf: str


class PermissionBatchOut(BaseModel):
    permissions: list[PermissionOut]


class LookupOut(BaseModel):
    license_id: int
    query_hash: str
    permissions: list[PermissionOut]


class LicenseOut(BaseModel):
    license_id: int
    model_id: int
    host: str
    status: str
    slashed: bool
    expires_at: int
    quota: int
    price_per_query: int
    issued: int
    # UsageSettlement as mirrored: σ are refused once issued × price would exceed the fee budget
    # (escrow deposited less withdrawn); settled_queries is the last voucher settled on chain.
    escrow_deposited: int = 0
    escrow_withdrawn: int = 0
    fee_budget: int = 0
    settled_queries: int = 0
    settled_fee: int = 0


class EpochUsage(BaseModel):
    epoch: int
    queries: int
    first_sequence: int
    last_sequence: int


class UsageOut(BaseModel):
    license_id: int
    epoch_seconds: int
    total_queries: int
    epochs: list[EpochUsage]


class VoucherOut(BaseModel):
    """A signed UsageVoucher; anyone may pass it to UsageSettlement.settle."""

    license_id: int
    cumulative_queries: int
    cumulative_fee: int
    usage_root: str
    signature: str
    signer: str
    verifying_contract: str
    chain_id: int


class ClosureOut(BaseModel):
    """A signed UsageClosure; anyone may pass it to UsageSettlement.close once the license is
    exiting and `cumulative_queries` σ are settled on chain."""

    license_id: int
    cumulative_queries: int
    signature: str
    signer: str
    verifying_contract: str
    chain_id: int


class ProofOut(BaseModel):
    permission: PermissionOut
    voucher: VoucherOut
    proof: list[str]


class HealthOut(BaseModel):
    status: Literal["ok"]
    signer: str
    chain_id: int
    mirror_block: int | None
