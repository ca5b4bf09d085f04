"""EIP-712 typed data, signatures and commitment hashes of OML (docs/PROTOCOL.md).

This module is the single Python source of every format the contracts check byte for byte:
the four EIP-712 message types and their domain, the model ``Terms`` hash, 65-byte
signatures, ``queryHash`` / ``responseHash`` / ``evidenceHash`` and the fingerprint and usage
Merkle leaves. Everything else (services, CLI, deploy scripts, tests) imports from here rather
than re-deriving a format, so a change to the protocol is a change to this one file.

Hashing is written out with ``eth_abi.encode`` + ``keccak`` instead of going through
``eth_account.messages.encode_typed_data``: it is easier to compare line by line with the
Solidity, and fast enough for the permission service's hot path. The unit tests cross-check
every type against ``encode_typed_data``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar

import rfc8785
from coincurve import PrivateKey, PublicKey
from eth_abi import encode
from eth_utils import is_address, keccak, to_checksum_address
from sha3 import keccak_256  # safe-pysha3, a declared dependency


def _keccak(data: bytes) -> bytes:
    """The same Keccak-256 as eth_utils.keccak, ~10x cheaper per call: used on the σ hot path."""
    return keccak_256(data).digest()


# --- EIP-712 type strings (field order and names are part of the signature) -----------------

DOMAIN_NAME = "OML"
DOMAIN_VERSION = "1"

EIP712_DOMAIN_TYPE = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
PERMISSION_TYPE = "Permission(uint256 licenseId,bytes32 queryHash,uint64 sequence,uint64 issuedAt)"
USAGE_VOUCHER_TYPE = (
    "UsageVoucher(uint256 licenseId,uint64 cumulativeQueries,uint256 cumulativeFee,"
    "bytes32 usageRoot)"
)
USAGE_CLOSURE_TYPE = "UsageClosure(uint256 licenseId,uint64 cumulativeQueries)"
CLAIM_ATTESTATION_TYPE = (
    "ClaimAttestation(uint256 subjectId,uint256 familyId,uint8 kind,bytes32 leaf,bytes32 evidenceHash,"
    "uint64 servedAt,address claimant)"
)
ANSWER_RECEIPT_TYPE = (
    "AnswerReceipt(uint256 licenseId,bytes32 queryHash,bytes32 responseHash,uint64 servedAt,"
    "bytes32 permission)"
)
LICENSE_AGREEMENT_TYPE = (
    "LicenseAgreement(uint256 modelId,address host,bytes32 termsHash,bytes32 endpointHash)"
)

EIP712_DOMAIN_TYPEHASH = keccak(text=EIP712_DOMAIN_TYPE)
PERMISSION_TYPEHASH = keccak(text=PERMISSION_TYPE)
USAGE_VOUCHER_TYPEHASH = keccak(text=USAGE_VOUCHER_TYPE)
USAGE_CLOSURE_TYPEHASH = keccak(text=USAGE_CLOSURE_TYPE)
CLAIM_ATTESTATION_TYPEHASH = keccak(text=CLAIM_ATTESTATION_TYPE)
ANSWER_RECEIPT_TYPEHASH = keccak(text=ANSWER_RECEIPT_TYPE)
LICENSE_AGREEMENT_TYPEHASH = keccak(text=LICENSE_AGREEMENT_TYPE)

# secp256k1 group order; EIP-2 accepts only s <= n/2 so a signature cannot be malleated.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2
BPS_DENOMINATOR = 10_000


class ClaimKind(IntEnum):
    UNPERMITTED_USE = 0
    LEAK = 1
    LINEAGE = 2
    ALIGNMENT_BREACH = 3
    OBSERVED_USE = 4


# --- validation ----------------------------------------------------------------------------


def _check(name: str, abi_type: str, value: Any) -> Any:
    """Check ``value`` fits the Solidity ``abi_type``; return it normalised (bytes, checksum).

    Failing here with the field's name beats an opaque eth_abi error, or worse, a signature
    over a value the contract would read differently.
    """
    if abi_type == "bytes32":
        if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
            raise ValueError(f"{name} must be 32 bytes (bytes32), got {value!r}")
        return bytes(value)
    if abi_type == "address":
        if not isinstance(value, str) or not is_address(value):
            raise ValueError(f"{name} must be a 0x-prefixed 20-byte address, got {value!r}")
        return to_checksum_address(value)
    if abi_type.startswith("uint"):
        bits = int(abi_type[4:])
        # bool is an int subclass; a True where an amount belongs is a bug, not a 1.
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an int ({abi_type}), got {value!r}")
        if not 0 <= value < 1 << bits:
            raise ValueError(f"{name} must be in [0, 2**{bits}) ({abi_type}), got {value}")
        return value
    raise AssertionError(f"unsupported ABI type {abi_type}")  # programming error in this module


def _values(obj: Any) -> tuple[Any, ...]:
    # Not dataclasses.astuple: that deep-copies every field, which the hot path does not need.
    return tuple(getattr(obj, f.name) for f in fields(obj))


def _word(abi_type: str, value: Any) -> bytes | None:
    """The 32-byte ABI word of a static value already normalised by ``_check`` (None: not handled
    here). Same bytes as ``eth_abi.encode([abi_type], [value])``, without its per-call overhead."""
    if abi_type == "bytes32":
        return value
    if abi_type.startswith("uint"):
        return value.to_bytes(32, "big")
    if abi_type == "address":
        return bytes(12) + bytes.fromhex(value[2:])
    return None


def _encode_static(abi_types: list[str], values: list[Any]) -> bytes:
    """``eth_abi.encode`` for the static types above (their encoding is the words in order)."""
    words = [_word(t, v) for t, v in zip(abi_types, values, strict=True)]
    if any(w is None or len(w) != 32 for w in words):
        return encode(abi_types, values)
    return b"".join(words)


def _validate(obj: Any, abi_types: tuple[str, ...]) -> None:
    for f, abi_type in zip(fields(obj), abi_types, strict=True):
        object.__setattr__(obj, f.name, _check(f.name, abi_type, getattr(obj, f.name)))


# --- domain and messages -------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    # A service signs thousands of messages in one domain: hash it once (~80 µs each time).
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [EIP712_DOMAIN_TYPEHASH, keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION), chain_id,
             verifying_contract],
        )
    )


@dataclass(frozen=True)
class Domain:
    """EIP-712 domain; ``verifying_contract`` is the contract that checks the message."""

    chain_id: int
    verifying_contract: str

    def __post_init__(self) -> None:
        _validate(self, ("uint256", "address"))

    def separator(self) -> bytes:
        return _domain_separator(self.chain_id, self.verifying_contract)

    def as_eip712(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


class _Message:
    """Shared EIP-712 hashing for the message dataclasses below.

    Each subclass lists its Solidity fields (name, type) in declaration order; the dataclass
    fields are the same in the same order, in snake_case.
    """

    PRIMARY_TYPE: ClassVar[str]
    TYPE_STRING: ClassVar[str]
    TYPEHASH: ClassVar[bytes]
    FIELDS: ClassVar[tuple[tuple[str, str], ...]]

    def __post_init__(self) -> None:
        _validate(self, tuple(t for _, t in self.FIELDS))

    def struct_hash(self) -> bytes:
        # Fields were checked and normalised in __post_init__, so every one is a static word.
        types = ["bytes32"] + [t for _, t in self.FIELDS]
        return _keccak(_encode_static(types, [self.TYPEHASH, *_values(self)]))

    def digest(self, domain: Domain) -> bytes:
        return _keccak(b"\x19\x01" + domain.separator() + self.struct_hash())

    def as_eip712(self, domain: Domain) -> dict[str, Any]:
        """Full typed-data document, e.g. for ``eth_signTypedData_v4`` or ``encode_typed_data``."""
        return {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                self.PRIMARY_TYPE: [{"name": n, "type": t} for n, t in self.FIELDS],
            },
            "primaryType": self.PRIMARY_TYPE,
            "domain": domain.as_eip712(),
            "message": {n: v for (n, _), v in zip(self.FIELDS, _values(self), strict=True)},
        }


@dataclass(frozen=True)
class Permission(_Message):
    """σ: the model's permission signer allows ``query_hash`` under ``license_id``."""

    PRIMARY_TYPE = "Permission"
    TYPE_STRING = PERMISSION_TYPE
    TYPEHASH = PERMISSION_TYPEHASH
    FIELDS = (
        ("licenseId", "uint256"),
        ("queryHash", "bytes32"),
        ("sequence", "uint64"),
        ("issuedAt", "uint64"),
    )

    license_id: int
    query_hash: bytes
    sequence: int
    issued_at: int


@dataclass(frozen=True)
class UsageVoucher(_Message):
    PRIMARY_TYPE = "UsageVoucher"
    TYPE_STRING = USAGE_VOUCHER_TYPE
    TYPEHASH = USAGE_VOUCHER_TYPEHASH
    FIELDS = (
        ("licenseId", "uint256"),
        ("cumulativeQueries", "uint64"),
        ("cumulativeFee", "uint256"),
        ("usageRoot", "bytes32"),
    )

    license_id: int
    cumulative_queries: int
    cumulative_fee: int
    usage_root: bytes


@dataclass(frozen=True)
class UsageClosure(_Message):
    """The permission signer's word, once a license's host asked to exit, that
    ``cumulative_queries`` is every σ it issued to the license and all are settled: it closes the
    license's usage account on chain, which lets the host withdraw its stake."""

    PRIMARY_TYPE = "UsageClosure"
    TYPE_STRING = USAGE_CLOSURE_TYPE
    TYPEHASH = USAGE_CLOSURE_TYPEHASH
    FIELDS = (
        ("licenseId", "uint256"),
        ("cumulativeQueries", "uint64"),
    )

    license_id: int
    cumulative_queries: int


@dataclass(frozen=True)
class ClaimAttestation(_Message):
    """A verifier's attestation of a claim that ``claimant`` will open (naming the claimant stops
    anyone from copying a pending openClaim and taking the reward), including when the answer was
    served (a σ clears the host only if it was issued no later) and, for LINEAGE, the family
    whose fingerprint the subject answered (0 for the other kinds). ``kind`` is range-checked as
    uint8 only (not as a known ``ClaimKind``) so tests can sign kinds the contract must reject."""

    PRIMARY_TYPE = "ClaimAttestation"
    TYPE_STRING = CLAIM_ATTESTATION_TYPE
    TYPEHASH = CLAIM_ATTESTATION_TYPEHASH
    FIELDS = (
        ("subjectId", "uint256"),
        ("familyId", "uint256"),
        ("kind", "uint8"),
        ("leaf", "bytes32"),
        ("evidenceHash", "bytes32"),
        ("servedAt", "uint64"),
        ("claimant", "address"),
    )

    subject_id: int
    family_id: int
    kind: int
    leaf: bytes
    evidence_hash: bytes
    served_at: int
    claimant: str


NO_PERMISSION = b"\0" * 32  # AnswerReceipt.permission of an answer served without σ


@dataclass(frozen=True)
class AnswerReceipt(_Message):
    """What a host's gateway signs for every answer, with the license's receipt signer key:
    it served ``response_hash`` (keccak of the whole answer text) for ``query_hash`` at
    ``served_at`` under the σ whose struct hash is ``permission`` (``NO_PERMISSION``: none).
    It is the evidence an UNPERMITTED_USE claim rests on, so no one but the host can produce it."""

    PRIMARY_TYPE = "AnswerReceipt"
    TYPE_STRING = ANSWER_RECEIPT_TYPE
    TYPEHASH = ANSWER_RECEIPT_TYPEHASH
    FIELDS = (
        ("licenseId", "uint256"),
        ("queryHash", "bytes32"),
        ("responseHash", "bytes32"),
        ("servedAt", "uint64"),
        ("permission", "bytes32"),
    )

    license_id: int
    query_hash: bytes
    response_hash: bytes
    served_at: int
    permission: bytes


@dataclass(frozen=True)
class LicenseAgreement(_Message):
    """Not signed: its digest is stored on chain as the license's ``agreementHash``."""

    PRIMARY_TYPE = "LicenseAgreement"
    TYPE_STRING = LICENSE_AGREEMENT_TYPE
    TYPEHASH = LICENSE_AGREEMENT_TYPEHASH
    FIELDS = (
        ("modelId", "uint256"),
        ("host", "address"),
        ("termsHash", "bytes32"),
        ("endpointHash", "bytes32"),
    )

    model_id: int
    host: str
    terms_hash: bytes
    endpoint_hash: bytes


def endpoint_hash(endpoint: str) -> bytes:
    """``keccak256(bytes(endpoint))`` as LicenseManager computes it."""
    return keccak(text=endpoint)


@dataclass(frozen=True)
class Terms:
    """Model terms, the ten fields of the Solidity ``Terms`` struct in declaration order."""

    ABI_TYPES: ClassVar[tuple[str, ...]] = (
        "uint96", "uint96", "uint96", "uint96", "uint64",
        "uint32", "uint32", "uint32", "uint16", "uint16",
    )  # fmt: skip

    price_per_query: int
    min_stake: int
    claim_bond: int
    registration_stake: int
    quota: int
    license_period: int
    challenge_window: int
    unbonding_period: int
    slash_bps: int
    claimant_reward_bps: int

    def __post_init__(self) -> None:
        _validate(self, self.ABI_TYPES)
        # Only the bps ceiling is checked here; the contract's own rules (slashBps >= 1,
        # unbondingPeriod > challengeWindow) are left to it so tests can exercise its reverts.
        for name in ("slash_bps", "claimant_reward_bps"):
            if getattr(self, name) > BPS_DENOMINATOR:
                raise ValueError(f"{name} must be <= {BPS_DENOMINATOR}, got {getattr(self, name)}")

    def as_tuple(self) -> tuple[int, ...]:
        """The struct as web3 takes it for a ``Terms`` tuple argument."""
        return _values(self)

    def terms_hash(self) -> bytes:
        # abi.encode of a static struct is its fields' words in order: same as encoding each
        # field as uint256, which is what the contract hashes.
        return keccak(encode(list(self.ABI_TYPES), list(self.as_tuple())))


# --- signatures ----------------------------------------------------------------------------


def _bytes32(name: str, value: Any) -> bytes:
    return _check(name, "bytes32", value)


def sign_digest(digest: bytes, private_key: bytes | PrivateKey) -> bytes:
    """Sign a 32-byte digest as is (no prefix, no hashing): 65 bytes ``r ‖ s ‖ v``, v in {27, 28}.

    libsecp256k1 always emits low-s signatures (EIP-2), which is what the contracts accept.
    ``private_key`` may also be a coincurve ``PrivateKey`` built once by a caller that signs
    many digests (building one costs more than a signature).
    """
    digest = _bytes32("digest", digest)
    if isinstance(private_key, PrivateKey):
        key = private_key
    elif not isinstance(private_key, (bytes, bytearray)) or len(private_key) != 32:
        raise ValueError("private_key must be 32 bytes")
    else:
        key = PrivateKey(bytes(private_key))
    sig = key.sign_recoverable(digest, hasher=None)
    assert int.from_bytes(sig[32:64], "big") <= SECP256K1_HALF_N  # libsecp256k1 guarantee
    return sig[:64] + bytes([sig[64] + 27])


def recover_signer(digest: bytes, signature: bytes) -> str:
    """Checksum address that signed ``digest``; rejects what the contracts reject (ValueError)."""
    digest = _bytes32("digest", digest)
    if not isinstance(signature, (bytes, bytearray)) or len(signature) != 65:
        raise ValueError("signature must be 65 bytes r || s || v")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise ValueError(f"signature v must be 27 or 28, got {v}")
    if not 0 < r < SECP256K1_N:
        raise ValueError("signature r out of range")
    if not 0 < s <= SECP256K1_HALF_N:
        raise ValueError("signature s must be low (EIP-2)")
    try:
        pub = PublicKey.from_signature_and_message(
            bytes(signature[:64]) + bytes([v - 27]), digest, hasher=None
        )
    except Exception as exc:  # coincurve raises plain Exception when no key recovers
        raise ValueError(f"signature does not recover a public key: {exc}") from exc
    return to_checksum_address(keccak(pub.format(compressed=False)[1:])[-20:])


def sign_typed(message: _Message, domain: Domain, private_key: bytes | PrivateKey) -> bytes:
    return sign_digest(message.digest(domain), private_key)


# --- commitment hashes ---------------------------------------------------------------------


def _jcs(obj: Any) -> bytes:
    return rfc8785.dumps(obj)


def query_hash(messages: list[Any]) -> bytes:
    """``keccak256(JCS(messages))``: the chat ``messages`` array exactly as the user sent it."""
    if not isinstance(messages, list):
        # A dict or string would hash fine and silently never match the host's hash.
        raise TypeError(f"messages must be a list, got {type(messages).__name__}")
    return keccak(_jcs(messages))


def response_hash(text: str) -> bytes:
    return keccak(text=text)


def evidence_hash(obj: Any) -> bytes:
    """``keccak256(JCS(obj))`` of a claim's evidence document."""
    return keccak(_jcs(obj))


def fingerprint_leaf(query_hash: bytes, response_hash: bytes, salt: bytes) -> bytes:
    """Fingerprint Merkle leaf. Hashed twice (OpenZeppelin leaf convention) so that a leaf
    can never be mistaken for an inner node, whose preimage is 64 bytes as well."""
    words = [
        _bytes32("query_hash", query_hash),
        _bytes32("response_hash", response_hash),
        _bytes32("salt", salt),
    ]
    return keccak(keccak(encode(["bytes32", "bytes32", "bytes32"], words)))


def claim_key(lineage: bool, subject_id: int, family_id: int, matter: bytes) -> bytes:
    """ClaimManager.claimKey: the offence a claim is about (a license's or, for LINEAGE, a model's
    answer to one fingerprint query; ALIGNMENT_BREACH: one piece of evidence). One claim per key,
    so one answer cannot be convicted twice under two leaves."""
    return keccak(encode(["bool", "uint256", "uint256", "bytes32"],
                         [bool(lineage), subject_id, family_id, _bytes32("matter", matter)]))


def usage_leaf(license_id: int, query_hash: bytes, sequence: int, issued_at: int) -> bytes:
    """Usage-tree leaf of one permission σ; same double hash as ``fingerprint_leaf``."""
    types = ["uint256", "bytes32", "uint64", "uint64"]
    names = ["license_id", "query_hash", "sequence", "issued_at"]
    values = [license_id, query_hash, sequence, issued_at]
    words = [_check(n, t, v) for n, t, v in zip(names, types, values, strict=True)]
    return _keccak(_keccak(_encode_static(types, words)))


def permission_usage_leaf(permission: Permission) -> bytes:
    return usage_leaf(
        permission.license_id, permission.query_hash, permission.sequence, permission.issued_at
    )


__all__ = [
    "ANSWER_RECEIPT_TYPE",
    "ANSWER_RECEIPT_TYPEHASH",
    "BPS_DENOMINATOR",
    "CLAIM_ATTESTATION_TYPE",
    "CLAIM_ATTESTATION_TYPEHASH",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "EIP712_DOMAIN_TYPE",
    "EIP712_DOMAIN_TYPEHASH",
    "LICENSE_AGREEMENT_TYPE",
    "LICENSE_AGREEMENT_TYPEHASH",
    "NO_PERMISSION",
    "PERMISSION_TYPE",
    "PERMISSION_TYPEHASH",
    "USAGE_CLOSURE_TYPE",
    "USAGE_CLOSURE_TYPEHASH",
    "USAGE_VOUCHER_TYPE",
    "USAGE_VOUCHER_TYPEHASH",
    "AnswerReceipt",
    "ClaimAttestation",
    "ClaimKind",
    "Domain",
    "LicenseAgreement",
    "Permission",
    "Terms",
    "UsageClosure",
    "UsageVoucher",
    "claim_key",
    "endpoint_hash",
    "evidence_hash",
    "fingerprint_leaf",
    "permission_usage_leaf",
    "query_hash",
    "recover_signer",
    "response_hash",
    "sign_digest",
    "sign_typed",
    "usage_leaf",
]


def attesters_hash(attesters: list[str]) -> bytes:
    """keccak256(abi.encodePacked(address[])): each address left-padded to 32 bytes, in order.

    ClaimManager stores it in a claim's record so that `penalizeAttesters` can be given the list.
    """
    return keccak(b"".join(bytes.fromhex(to_checksum_address(a)[2:]).rjust(32, b"\0") for a in attesters))
