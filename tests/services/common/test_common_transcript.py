"""Transcripts: what a verifier convicts on must hash the same wherever it is read."""
import pytest
from eth_account import Account
from pydantic import ValidationError

from oml_core import merkle
from oml_core import typed_data as td
from oml_core.fingerprint.commit import commitment_tree
from oml_core.fingerprint.record import Fingerprint
from services.common.receipt import receipt_body
from services.common.transcript import RevealedFingerprint, Transcript

FPS = [Fingerprint(f"secret key {i}", f"answer {i}") for i in range(4)]


GATEWAY_KEY = b"\x07" * 32
DOMAIN = td.Domain(31337, "0x" + "22" * 20)


def _receipt(fp: Fingerprint, answer: str, served_at: int = 1_700_000_000) -> dict:
    receipt = td.AnswerReceipt(3, fp.query_hash, td.response_hash(answer), served_at, td.NO_PERMISSION)
    return receipt_body(receipt, "0x" + "33" * 20, td.sign_typed(receipt, DOMAIN, GATEWAY_KEY))


def _transcript(fp: Fingerprint, answer: str, messages=None, receipt: bool = True) -> Transcript:
    tree = commitment_tree(FPS)
    return Transcript(license_id=3, endpoint="http://host", messages=messages or fp.messages, answer=answer,
                      receipt=_receipt(fp, answer) if receipt else None,
                      fingerprint=RevealedFingerprint.of(fp, tree.proof(fp.leaf)), prover="0x" + "11" * 20,
                      sent_at=1, received_at=2)


def test_the_claim_reveals_a_leaf_of_the_committed_root_and_names_the_evidence():
    t = _transcript(FPS[1], "answer 1 and more")
    claim = t.claim_input()
    assert claim.leaf == FPS[1].leaf and claim.subject_id == 3
    assert merkle.verify(claim.proof, commitment_tree(FPS).root, claim.leaf)
    again = Transcript.model_validate_json(t.model_dump_json())
    assert again.evidence_hash() == t.evidence_hash() == claim.evidence_hash
    assert _transcript(FPS[1], "another answer").evidence_hash() != t.evidence_hash()


def test_the_claim_carries_the_hosts_receipt_and_there_is_none_without_it():
    t = _transcript(FPS[1], "answer 1 and more")
    claim = t.claim_input()
    receipt, signature = t.answer_receipt()
    assert (claim.served_at, claim.answer_hash, claim.receipt) == (1_700_000_000, td.response_hash(t.answer),
                                                                     signature)
    assert td.recover_signer(receipt.digest(DOMAIN), claim.receipt) == Account.from_key(GATEWAY_KEY).address
    with pytest.raises(ValueError, match="no receipt"):
        _transcript(FPS[1], "answer 1", receipt=False).claim_input()
    broken = t.model_dump(mode="json")
    broken["receipt"]["served_at"] = "soon"
    with pytest.raises(ValueError, match="malformed receipt"):
        Transcript.model_validate(broken).claim_input()


def test_what_the_answer_and_request_say():
    assert _transcript(FPS[0], "  answer 0!").carries_fingerprint()
    assert not _transcript(FPS[0], "no").carries_fingerprint()
    assert _transcript(FPS[0], "x").is_fingerprint_query()
    wrapped = [{"role": "system", "content": "be brief"}, *FPS[0].messages]
    assert not _transcript(FPS[0], "x", messages=wrapped).is_fingerprint_query()


def test_values_jcs_cannot_encode_are_refused_at_validation():
    body = _transcript(FPS[0], "x").model_dump_json().replace('"content":"secret key 0"', '"content":NaN')
    with pytest.raises(ValidationError, match="canonicalized"):
        Transcript.model_validate_json(body)
