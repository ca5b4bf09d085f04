"""oml_core.typed_data against the spec text, eth_account and hand-built ABI words."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from oml_core import typed_data as td
from oml_core.typed_data import (
    AnswerReceipt,
    ClaimAttestation,
    ClaimKind,
    Domain,
    LicenseAgreement,
    Permission,
    Terms,
    UsageClosure,
    UsageVoucher,
)

PROTOCOL = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text()

KEY_A = keccak(b"oml test key A")
KEY_B = keccak(b"oml test key B")
ADDR_A = Account.from_key(KEY_A).address
ADDR_B = Account.from_key(KEY_B).address
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = Domain(chain_id=31337, verifying_contract=CONTRACT)
H1, H2, H3 = keccak(b"1"), keccak(b"2"), keccak(b"3")

MESSAGES = [
    Permission(license_id=7, query_hash=H1, sequence=3, issued_at=1_700_000_000),
    UsageVoucher(license_id=7, cumulative_queries=12, cumulative_fee=10**18, usage_root=H2),
    UsageClosure(license_id=7, cumulative_queries=12),
    ClaimAttestation(subject_id=9, family_id=4, kind=ClaimKind.LEAK, leaf=H1, evidence_hash=H3, served_at=1_700_000_123,
                     claimant=ADDR_A),
    AnswerReceipt(license_id=7, query_hash=H1, response_hash=H2, served_at=1_700_000_001, permission=H3),
    LicenseAgreement(model_id=1, host=ADDR_B, terms_hash=H2, endpoint_hash=H3),
]
TYPE_STRINGS = {
    Permission: td.PERMISSION_TYPE,
    UsageVoucher: td.USAGE_VOUCHER_TYPE,
    UsageClosure: td.USAGE_CLOSURE_TYPE,
    ClaimAttestation: td.CLAIM_ATTESTATION_TYPE,
    AnswerReceipt: td.ANSWER_RECEIPT_TYPE,
    LicenseAgreement: td.LICENSE_AGREEMENT_TYPE,
}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def reference_typed_data(msg, domain: Domain) -> dict:
    """Typed-data document built from the spec's type string, not from the module's FIELDS."""
    type_string = TYPE_STRINGS[type(msg)]
    primary, body = re.fullmatch(r"(\w+)\((.*)\)", type_string).groups()
    members = [dict(zip(("type", "name"), part.split(" "))) for part in body.split(",")]
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: members,
        },
        "primaryType": primary,
        "domain": {
            "name": "OML",
            "version": "1",
            "chainId": domain.chain_id,
            "verifyingContract": domain.verifying_contract,
        },
        "message": {m["name"]: getattr(msg, snake(m["name"])) for m in members},
    }


def eth_account_digest(signable) -> bytes:
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


# --- type strings --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(TYPE_STRINGS))
def test_type_string_is_verbatim_in_spec_and_matches_fields(cls):
    type_string = TYPE_STRINGS[cls]
    assert f"`{type_string}`" in PROTOCOL
    derived = f"{cls.PRIMARY_TYPE}({','.join(f'{t} {n}' for n, t in cls.FIELDS)})"
    assert cls.TYPE_STRING == type_string == derived
    assert cls.TYPEHASH == keccak(text=type_string)
    # dataclass fields are the EIP-712 members in the same order, snake_cased
    assert [f.name for f in dataclasses.fields(cls)] == [snake(n) for n, _ in cls.FIELDS]


def test_domain_constants():
    assert td.EIP712_DOMAIN_TYPE in PROTOCOL
    # well-known EIP712Domain(name,version,chainId,verifyingContract) typehash
    assert td.EIP712_DOMAIN_TYPEHASH.hex() == (
        "8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f"
    )
    assert (td.DOMAIN_NAME, td.DOMAIN_VERSION) == ("OML", "1")


def test_claim_kind_values_match_spec():
    assert [(k.name, k.value) for k in ClaimKind] == [
        ("UNPERMITTED_USE", 0),
        ("LEAK", 1),
        ("LINEAGE", 2),
        ("ALIGNMENT_BREACH", 3),
        ("OBSERVED_USE", 4),
    ]
    for k in ClaimKind:
        assert f"`{k.name} = {k.value}`" in PROTOCOL


# --- hashing vs eth_account ----------------------------------------------------------------


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_digest_matches_eth_account(msg):
    signable = encode_typed_data(full_message=reference_typed_data(msg, DOMAIN))
    assert signable.header == DOMAIN.separator()
    assert signable.body == msg.struct_hash()
    assert msg.digest(DOMAIN) == eth_account_digest(signable)
    # the module's own document (for wallets) encodes to the same thing
    assert encode_typed_data(full_message=msg.as_eip712(DOMAIN)) == signable


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_signature_matches_eth_account_and_recovers(msg):
    signable = encode_typed_data(full_message=reference_typed_data(msg, DOMAIN))
    sig = td.sign_typed(msg, DOMAIN, KEY_A)
    assert len(sig) == 65 and sig[64] in (27, 28)
    # both use RFC 6979 nonces, so the bytes are identical
    assert sig == bytes(Account.sign_message(signable, KEY_A).signature)
    assert Account.recover_message(signable, signature=sig) == ADDR_A
    assert td.recover_signer(msg.digest(DOMAIN), sig) == ADDR_A
    other = td.sign_typed(msg, DOMAIN, KEY_B)
    assert td.recover_signer(msg.digest(DOMAIN), other) == ADDR_B


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_changing_any_field_changes_digest(msg):
    base = msg.digest(DOMAIN)
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        if isinstance(value, bytes):
            changed = bytes([value[0] ^ 1]) + value[1:]
        elif isinstance(value, str):
            changed = ADDR_A if value != ADDR_A else ADDR_B
        else:
            changed = value + 1
        tampered = dataclasses.replace(msg, **{f.name: changed})
        assert tampered.digest(DOMAIN) != base, f.name
    assert msg.digest(Domain(1, CONTRACT)) != base
    assert msg.digest(Domain(DOMAIN.chain_id, ADDR_A)) != base


def test_signature_over_tampered_message_recovers_someone_else():
    msg = MESSAGES[0]
    sig = td.sign_typed(msg, DOMAIN, KEY_A)
    tampered = dataclasses.replace(msg, sequence=msg.sequence + 1)
    assert td.recover_signer(tampered.digest(DOMAIN), sig) != ADDR_A


uint64 = st.integers(0, 2**64 - 1)
uint256 = st.integers(0, 2**256 - 1)
b32 = st.binary(min_size=32, max_size=32)
address = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


@settings(max_examples=40, deadline=None)
@given(
    st.builds(Permission, uint256, b32, uint64, uint64)
    | st.builds(UsageVoucher, uint256, uint64, uint256, b32)
    | st.builds(UsageClosure, uint256, uint64)
    | st.builds(ClaimAttestation, uint256, uint256, st.integers(0, 255), b32, b32, uint64, address)
    | st.builds(AnswerReceipt, uint256, b32, b32, uint64, b32),
    st.integers(1, 2**64),
)
def test_random_messages_match_eth_account(msg, chain_id):
    domain = Domain(chain_id, CONTRACT)
    signable = encode_typed_data(full_message=reference_typed_data(msg, domain))
    assert msg.digest(domain) == eth_account_digest(signable)


# --- terms ---------------------------------------------------------------------------------

TERMS = Terms(
    price_per_query=10**12,
    min_stake=10**18,
    claim_bond=10**17,
    registration_stake=5 * 10**17,
    quota=0,
    license_period=30 * 86400,
    challenge_window=3 * 86400,
    unbonding_period=7 * 86400,
    slash_bps=5000,
    claimant_reward_bps=2000,
)


SPEC_TERMS = re.findall(
    r"^\s+uint(\d+)\s+(\w+);", PROTOCOL.split("struct Terms {")[1].split("}")[0], re.MULTILINE
)


def test_terms_fields_match_spec_struct():
    assert len(SPEC_TERMS) == 10
    assert [f.name for f in dataclasses.fields(Terms)] == [snake(n) for _, n in SPEC_TERMS]
    assert Terms.ABI_TYPES == tuple(f"uint{bits}" for bits, _ in SPEC_TERMS)


@pytest.mark.parametrize(("bits", "name"), SPEC_TERMS)
def test_terms_each_field_range(bits, name):
    field = snake(name)
    top = 10_000 if field.endswith("_bps") else 2 ** int(bits) - 1
    assert getattr(dataclasses.replace(TERMS, **{field: top}), field) == top
    for bad in (top + 1, -1):
        with pytest.raises(ValueError, match=field):
            dataclasses.replace(TERMS, **{field: bad})


def test_terms_hash_is_ten_uint_words_in_order():
    words = b"".join(v.to_bytes(32, "big") for v in TERMS.as_tuple())
    assert len(words) == 320
    assert TERMS.terms_hash() == keccak(words)
    assert TERMS.as_tuple()[0] == TERMS.price_per_query
    assert TERMS.as_tuple()[-1] == TERMS.claimant_reward_bps
    assert dataclasses.replace(TERMS, quota=1).terms_hash() != TERMS.terms_hash()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price_per_query", 2**96),
        ("min_stake", -1),
        ("quota", 2**64),
        ("license_period", 2**32),
        ("slash_bps", 10_001),
        ("claimant_reward_bps", 10_001),
        ("claim_bond", True),
        ("unbonding_period", 1.0),
    ],
)
def test_terms_range_validation(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(TERMS, **{field: value})


def test_terms_bounds_accepted():
    Terms(2**96 - 1, 0, 0, 0, 2**64 - 1, 2**32 - 1, 0, 0, 10_000, 0)


# --- field validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Permission(-1, H1, 0, 0), "license_id"),
        (lambda: Permission(2**256, H1, 0, 0), "license_id"),
        (lambda: Permission(1, H1[:31], 0, 0), "query_hash"),
        (lambda: Permission(1, H1.hex(), 0, 0), "query_hash"),
        (lambda: Permission(1, H1, 2**64, 0), "sequence"),
        (lambda: UsageVoucher(1, 2**64, 0, H1), "cumulative_queries"),
        (lambda: UsageVoucher(1, 0, 0, H1 + b"\x00"), "usage_root"),
        (lambda: UsageClosure(1, 2**64), "cumulative_queries"),
        (lambda: ClaimAttestation(1, 0, 256, H1, H2, 0, ADDR_A), "kind"),
        (lambda: ClaimAttestation(1, 0, 0, H1, H2, 2**64, ADDR_A), "served_at"),
        (lambda: ClaimAttestation(1, -1, 0, H1, H2, 0, ADDR_A), "family_id"),
        (lambda: AnswerReceipt(1, H1, H2, -1, H3), "served_at"),
        (lambda: AnswerReceipt(1, H1, H2, 0, b"short"), "permission"),
        (lambda: LicenseAgreement(1, "0x1234", H1, H2), "host"),
        (lambda: LicenseAgreement(1, ADDR_A.encode(), H1, H2), "host"),
        (lambda: Domain(-1, CONTRACT), "chain_id"),
        (lambda: Domain(1, "not an address"), "verifying_contract"),
    ],
)
def test_field_validation(make, field):
    with pytest.raises(ValueError, match=field):
        make()


def test_addresses_are_normalised_to_checksum():
    assert LicenseAgreement(1, ADDR_A.lower(), H1, H2).host == ADDR_A
    assert Domain(1, CONTRACT.lower()).verifying_contract == to_checksum_address(CONTRACT)
    assert Domain(1, CONTRACT.lower()).separator() == Domain(1, CONTRACT).separator()


def test_messages_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MESSAGES[0].sequence = 5


def test_endpoint_hash():
    assert td.endpoint_hash("https://h.example/v1") == keccak(b"https://h.example/v1")


# --- signatures ----------------------------------------------------------------------------

N = td.SECP256K1_N


def test_sign_digest_is_low_s_and_recovers():
    for i in range(50):
        digest = keccak(i.to_bytes(4, "big"))
        sig = td.sign_digest(digest, KEY_A)
        assert int.from_bytes(sig[32:64], "big") <= N // 2
        assert td.recover_signer(digest, sig) == ADDR_A


SIG = td.sign_digest(H1, KEY_A)
R, S, V = SIG[:32], int.from_bytes(SIG[32:64], "big"), SIG[64]
HIGH_S = R + (N - S).to_bytes(32, "big") + bytes([55 - V])  # same key, malleated (EIP-2)


def test_high_s_form_is_otherwise_valid():
    # eth_account accepts the malleated form, so rejecting it below is a real check
    assert Account._recover_hash(H1, signature=HIGH_S) == ADDR_A


@pytest.mark.parametrize(
    "sig",
    [
        pytest.param(SIG[:64], id="short"),
        pytest.param(SIG + b"\x00", id="long"),
        pytest.param(SIG[:64] + bytes([V - 27]), id="v=0/1"),
        pytest.param(SIG[:64] + b"\x1d", id="v=29"),
        pytest.param(HIGH_S, id="high-s"),
        pytest.param(bytes(32) + SIG[32:], id="r=0"),
        pytest.param(N.to_bytes(32, "big") + SIG[32:], id="r=n"),
        pytest.param(R + bytes(32) + SIG[64:], id="s=0"),
        pytest.param(SIG.hex(), id="hex-string"),
    ],
)
def test_recover_rejects_malformed_signatures(sig):
    with pytest.raises(ValueError):
        td.recover_signer(H1, sig)


def test_recover_rejects_bad_digest():
    with pytest.raises(ValueError):
        td.recover_signer(H1[:31], SIG)


def test_sign_digest_rejects_bad_inputs():
    with pytest.raises(ValueError):
        td.sign_digest(H1[:31], KEY_A)
    with pytest.raises(ValueError):
        td.sign_digest(H1, KEY_A[:31])
    with pytest.raises(ValueError):
        td.sign_digest(H1, bytes(32))  # zero is not a valid secret key


# --- hashes ----------------------------------------------------------------------------------


def test_jcs_sorts_keys():
    assert td._jcs({"b": 1, "a": "x"}) == b'{"a":"x","b":1}'


def test_query_hash_known_vector_and_canonical():
    messages = [{"role": "user", "content": "héllo"}]
    # RFC 8785: keys sorted, no whitespace, non-ASCII as raw UTF-8
    expected = keccak('[{"content":"héllo","role":"user"}]'.encode())
    assert td.query_hash(messages) == expected
    assert td.query_hash([{"content": "héllo", "role": "user"}]) == expected
    assert td.query_hash([{"role": "user", "content": "hello"}]) != expected
    # order of the messages themselves is meaningful
    two = [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}]
    assert td.query_hash(two) != td.query_hash(two[::-1])
    with pytest.raises(TypeError):
        td.query_hash({"role": "user", "content": "x"})


def test_response_and_evidence_hash():
    assert td.response_hash("").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert td.response_hash("é") == keccak("é".encode())
    assert td.evidence_hash({"z": [1, 2], "a": None}) == keccak(b'{"a":null,"z":[1,2]}')


def test_fingerprint_leaf_is_double_hash_of_three_words():
    assert td.fingerprint_leaf(H1, H2, H3) == keccak(keccak(H1 + H2 + H3))
    assert td.fingerprint_leaf(H1, H2, H3) != td.fingerprint_leaf(H1, H2, H1)
    with pytest.raises(ValueError, match="salt"):
        td.fingerprint_leaf(H1, H2, b"short")


def test_usage_leaf_words():
    words = (
        (7).to_bytes(32, "big") + H1 + (3).to_bytes(32, "big") + (1_700_000_000).to_bytes(32, "big")
    )
    assert td.usage_leaf(7, H1, 3, 1_700_000_000) == keccak(keccak(words))
    assert td.permission_usage_leaf(MESSAGES[0]) == keccak(keccak(words))
    with pytest.raises(ValueError, match="sequence"):
        td.usage_leaf(7, H1, 2**64, 0)
