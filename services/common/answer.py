"""The `oml` field a host gateway adds to every chat completion (and to the first and the last
chunk of a stream).

    {"oml": {"license_id": 3, "permission_id": "3:17", "permission": {...PermissionOut...},
             "receipt": {...services/common/receipt.py...}}}

`permission` is the σ(q) body exactly as the permission service returned it (license_id,
query_hash, sequence, issued_at, signature, ...); it is null when the host served the query
without σ. `receipt` is the gateway's signature over the answer (null in a stream's first chunk:
the answer is not known yet; the last chunk carries it). Provers keep the field in their
transcripts; verifiers read σ and the receipt from it. The same permission id also travels in
the `X-OML-Permission` response header.
"""
from __future__ import annotations

from typing import Any

OML_FIELD = "oml"
PERMISSION_HEADER = "X-OML-Permission"


def permission_id(license_id: int, sequence: int) -> str:
    """Names one σ: the license and its per-license sequence number."""
    return f"{license_id}:{sequence}"


def answer_extension(license_id: int, permission: dict | None, receipt: dict | None = None) -> dict:
    """The value of the `oml` field for an answer served under `permission` (None: without σ)."""
    pid = permission_id(license_id, int(permission["sequence"])) if permission else None
    return {"license_id": license_id, "permission_id": pid, "permission": permission, "receipt": receipt}


def extension_of(completion: Any) -> dict | None:
    """The `oml` field of a completion: a JSON dict, or an `openai` ChatCompletion/ChatCompletionChunk
    (whose unknown fields land in `model_extra`). None when the answer carries none."""
    if isinstance(completion, dict):
        value = completion.get(OML_FIELD)
    else:
        value = (getattr(completion, "model_extra", None) or {}).get(OML_FIELD)
    return value if isinstance(value, dict) else None
