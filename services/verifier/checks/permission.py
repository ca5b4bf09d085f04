"""Check 5: no σ that clears the host. A σ clears it only if it was issued no earlier than the
license began and no later than the receipt says the answer was served (ClaimManager.refute's
rule): a σ bought after the fact is worth nothing. A σ the host returned with the answer counts
when it verifies as refute would verify it; otherwise the permission service is asked for every σ
it issued for the query, since a host may hold a σ it did not show (and would refute with it)."""
from __future__ import annotations

from oml_core import typed_data as td
from services.common.transcript import Transcript
from services.verifier.chain import ChainView
from services.verifier.permission_lookup import PermissionLookup
from services.verifier.verdicts import CheckResult, Verdict


def check_permission(transcript: Transcript, license: dict, chain: ChainView,
                     lookup: PermissionLookup) -> CheckResult | None:
    window = sigma_window(transcript, license, chain)
    if window is None:
        return None  # a receipt dated in the future: no σ can clear it on chain
    shown = shown_permission(transcript)
    if shown is not None and _clears(*shown, license["modelId"], window, chain):
        return CheckResult(Verdict.HONEST, f"the answer carries a valid σ (sequence {shown[0].sequence}) "
                                           "issued before it was served")
    for body in lookup.permissions(transcript.license_id, transcript.query_hash()):
        permission = _typed(body)
        if permission is not None and window[0] <= permission.issued_at <= window[1]:
            return CheckResult(Verdict.HONEST, f"the permission service issued σ #{permission.sequence} for this "
                                               "query before the answer was served")
    return None


def sigma_window(transcript: Transcript, license: dict, chain: ChainView) -> tuple[int, int] | None:
    """(earliest, latest) issue time of a σ that clears this answer; None when none can: the
    receipt is dated more than a clock skew ahead of the chain, which no honest gateway does."""
    receipt, _ = transcript.answer_receipt()
    if receipt.served_at > chain.now() + chain.clock_skew:
        return None
    return chain.license_start(license), receipt.served_at


def shown_permission(transcript: Transcript) -> tuple[td.Permission, bytes] | None:
    """The σ in the transcript, when it is one for this license and this query (else None)."""
    body = transcript.permission
    permission = _typed(body) if isinstance(body, dict) else None
    if permission is None:
        return None
    try:
        signature = bytes.fromhex(str(body["signature"]).removeprefix("0x"))
    except (KeyError, ValueError, TypeError):
        return None
    if permission.license_id != transcript.license_id or permission.query_hash != transcript.query_hash():
        return None
    return permission, signature


def _typed(body: dict) -> td.Permission | None:
    try:
        query_hash = bytes.fromhex(str(body["query_hash"]).removeprefix("0x"))
        return td.Permission(int(body["license_id"]), query_hash, int(body["sequence"]), int(body["issued_at"]))
    except (KeyError, ValueError, TypeError):
        return None


def _clears(permission: td.Permission, signature: bytes, model_id: int, window: tuple[int, int],
            chain: ChainView) -> bool:
    if not window[0] <= permission.issued_at <= window[1]:
        return False
    try:
        signer = td.recover_signer(permission.digest(chain.permission_domain), signature)
    except ValueError:
        return False
    return chain.permission_clears(model_id, signer, permission.issued_at, window[1])
