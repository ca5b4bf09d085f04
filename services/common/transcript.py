"""A prover's transcript: what it sent to a host, what came back, and the fingerprint it used.

Provers hand transcripts to verifiers; a verifier that finds the fingerprint's response in the
answer, the host's valid receipt for it, and no σ issued before the answer was served opens an
UNPERMITTED_USE claim whose evidence hash is `Transcript.evidence_hash()`. The revealed
fingerprint (key, response, salt) and its Merkle proof let anyone check the leaf against the
license's on-chain fingerprint root; the receipt (services/common/receipt.py) shows the host
itself served the answer, and when.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from oml_core import typed_data as td
from oml_core.contracts import ClaimInput
from oml_core.fingerprint.check import text_matches
from oml_core.fingerprint.record import Fingerprint
from services.common.receipt import parse_receipt

Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


def _b32(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


class RevealedFingerprint(BaseModel):
    """A used fingerprint, revealed with its proof of membership in the license's root."""

    key: Annotated[str, Field(min_length=1, max_length=8192)]
    response: Annotated[str, Field(min_length=1, max_length=8192)]
    salt: Hex32
    proof: Annotated[list[Hex32], Field(max_length=64)] = []

    @classmethod
    def of(cls, fp: Fingerprint, proof: list[bytes]) -> RevealedFingerprint:
        return cls(key=fp.key, response=fp.response, salt="0x" + fp.salt.hex(),
                   proof=["0x" + p.hex() for p in proof])

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.key, self.response, _b32(self.salt))

    def proof_bytes(self) -> list[bytes]:
        return [_b32(p) for p in self.proof]


class Transcript(BaseModel):
    """One probe: request as sent, answer as received, σ as the host returned it (or None)."""

    license_id: Annotated[int, Field(ge=0, lt=2**256)]
    endpoint: Annotated[str, Field(max_length=2048)]
    model: Annotated[str, Field(max_length=256)] = "oml"
    messages: Annotated[list[dict], Field(min_length=1, max_length=64)]
    answer: Annotated[str, Field(max_length=65536)]
    permission: dict | None = None  # the `oml.permission` the host returned (services/common/answer.py)
    receipt: dict | None = None  # the `oml.receipt` the host returned (services/common/receipt.py)
    fingerprint: RevealedFingerprint
    prover: Address
    sent_at: int
    received_at: int

    @model_validator(mode="after")
    def _hashable(self) -> Transcript:
        # JSON parsers accept NaN and Infinity, which JCS (RFC 8785) cannot encode: refuse them
        # here, as a validation error, rather than fail later while hashing.
        try:
            self.query_hash()
            self.evidence_hash()
        except ValueError as exc:
            raise ValueError(f"the transcript cannot be canonicalized (RFC 8785): {exc}") from None
        return self

    def query_hash(self) -> bytes:
        """Hash of the request as the prover sent it (the σ the host needed is for this hash)."""
        return td.query_hash(self.messages)

    def evidence_hash(self) -> bytes:
        return td.evidence_hash(self.model_dump(mode="json"))

    def is_fingerprint_query(self) -> bool:
        """The request is exactly the fingerprint's key (so the claim's queryHash is the σ's)."""
        return self.query_hash() == self.fingerprint.fingerprint().query_hash

    def carries_fingerprint(self) -> bool:
        """The answer starts with the fingerprint's secret response (oml_core's endpoint rule)."""
        return text_matches(self.answer, self.fingerprint.response)

    def answer_receipt(self) -> tuple[td.AnswerReceipt, bytes]:
        """The host's receipt of this answer and its signature (ValueError: none, or malformed)."""
        return parse_receipt(self.receipt)

    def claim_input(self) -> ClaimInput:
        """The UNPERMITTED_USE claim this transcript supports (ValueError without a receipt)."""
        fp = self.fingerprint.fingerprint()
        receipt, signature = self.answer_receipt()
        return ClaimInput.unpermitted_use(receipt, signature, td.response_hash(fp.response), fp.salt,
                                          self.fingerprint.proof_bytes(), self.evidence_hash())
