"""ClaimRecord tuples (as ClaimOpened emits them) to JSON and back, so the verifier can pass a
claim's record to `execute` after a restart without scanning logs."""
from __future__ import annotations

BYTES_FIELDS = (9, 10, 11)  # queryHash, leaf, attestersHash (oml_core.contracts._RECORD_FIELDS)
CLAIMANT = 3
BOND = 5


def record_to_json(record: tuple) -> list:
    return ["0x" + bytes(v).hex() if i in BYTES_FIELDS else v for i, v in enumerate(record)]


def record_from_json(values: list) -> tuple:
    return tuple(bytes.fromhex(v[2:]) if i in BYTES_FIELDS else v for i, v in enumerate(values))
