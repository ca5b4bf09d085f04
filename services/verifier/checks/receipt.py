"""Check 4: the host's own receipt of this answer. A claim must rest on evidence the accused
cannot dispute: the receipt is signed by the license's receipt signer, for this license, this
query and this exact answer text, and says when the answer was served (no earlier than the
license began). Without it the transcript is only the prover's word, which convicts nobody."""
from __future__ import annotations

from oml_core import typed_data as td
from services.common.receipt import recovered_signer
from services.common.transcript import Transcript
from services.verifier.chain import ChainView
from services.verifier.verdicts import CheckResult, Verdict


def check_receipt(transcript: Transcript, license: dict, chain: ChainView) -> CheckResult | None:
    try:
        receipt, signature = transcript.answer_receipt()
    except ValueError as exc:
        return CheckResult(Verdict.NO_RECEIPT, f"{exc}: a prover's word alone convicts nobody")
    if receipt.license_id != transcript.license_id or receipt.query_hash != transcript.query_hash():
        return CheckResult(Verdict.NO_RECEIPT, "the receipt is for another license or query")
    if receipt.response_hash != td.response_hash(transcript.answer):
        return CheckResult(Verdict.NO_RECEIPT, "the receipt is for another answer text")
    try:
        signer = recovered_signer(receipt, signature, chain.receipt_domain)
    except ValueError as exc:
        return CheckResult(Verdict.NO_RECEIPT, f"the receipt's signature is invalid ({exc})")
    if signer.lower() != str(license["receiptSigner"]).lower():
        return CheckResult(Verdict.NO_RECEIPT, f"the receipt is signed by {signer}, not by the license's "
                                               f"receipt signer {license['receiptSigner']}")
    if receipt.served_at < chain.license_start(license):
        return CheckResult(Verdict.NO_RECEIPT, "the receipt says the answer was served before the license began")
    return None
