"""Check 4: no σ exists for the query. A σ the host returned with the answer counts when it
verifies as ClaimManager.refute would verify it; otherwise the permission service is asked, since
a host may hold a σ it did not show (and would refute the claim with it)."""
from __future__ import annotations

from oml_core import typed_data as td
from services.common.transcript import Transcript
from services.verifier.chain import ChainView
from services.verifier.permission_lookup import PermissionLookup
from services.verifier.verdicts import CheckResult, Verdict


def check_permission(transcript: Transcript, license: dict, chain: ChainView,
                     lookup: PermissionLookup) -> CheckResult | None:
    shown = shown_permission(transcript)
    if shown is not None:
        permission, signature = shown
        if _signed_by_permission_signer(permission, signature, license["modelId"], chain):
            return CheckResult(Verdict.HONEST,
                               f"the answer carries a valid σ (sequence {permission.sequence})")
    if lookup.has_permission(transcript.license_id, transcript.query_hash()):
        return CheckResult(Verdict.HONEST, "the permission service issued σ for this query")
    return None


def shown_permission(transcript: Transcript) -> tuple[td.Permission, bytes] | None:
    """The σ in the transcript, when it is one for this license and this query (else None)."""
    body = transcript.permission
    if not isinstance(body, dict):
        return None
    try:
        query_hash = bytes.fromhex(str(body["query_hash"]).removeprefix("0x"))
        permission = td.Permission(int(body["license_id"]), query_hash, int(body["sequence"]),
                                   int(body["issued_at"]))
        signature = bytes.fromhex(str(body["signature"]).removeprefix("0x"))
    except (KeyError, ValueError, TypeError):
        return None
    if permission.license_id != transcript.license_id or permission.query_hash != transcript.query_hash():
        return None
    return permission, signature


def _signed_by_permission_signer(permission: td.Permission, signature: bytes, model_id: int,
                                 chain: ChainView) -> bool:
    try:
        signer = td.recover_signer(permission.digest(chain.permission_domain), signature)
    except ValueError:
        return False
    return chain.is_permission_signer(model_id, signer, permission.issued_at)
