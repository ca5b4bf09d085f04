"""The life of a claim this verifier leads: gathering -> opened -> executed | refuted (| lost).

Every chain write is made idempotent by reading first: before opening, ClaimManager.claimOf
tells whether a claim on the answer exists (we may have crashed after sending openClaim; then we
adopt it); before executing, claimStatus tells whether it is still Open. A failure leaves the
claim as it was, to be retried on a later pass.
"""
from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from oml_core.chain.errors import TransactionFailed
from oml_core.contracts import OpenedClaim
from services.common.transcript import Transcript
from services.verifier.chain import SLASHABLE, ChainView
from services.verifier.db import EXECUTED, GATHERING, LOST, REFUTED, ClaimRow
from services.verifier.peers import gather
from services.verifier.records import CLAIMANT, record_from_json
from services.verifier.store import Store

ANSWER_TAKEN = ("ClaimManager__AnswerUnderClaim", "ClaimManager__AnswerAlreadyClaimed")


class Deferred(Exception):
    """Not now: the claim stays in its state and is retried after a back-off."""


class ClaimDriver:
    def __init__(self, chain: ChainView, store: Store, key: bytes, address: str,
                 peers: Callable[[], list[httpx.Client]]):
        self.chain, self.store, self.key, self.address, self.peers = chain, store, key, address, peers

    def advance(self, row: ClaimRow) -> None:
        """One step for one claim; Deferred or Unavailable when it must wait."""
        if row.status == GATHERING:
            self._open(row)
        else:
            self._watch(row)

    # ------------------------------------------------------------------ gathering -> opened

    def _open(self, row: ClaimRow) -> None:
        transcript = Transcript.model_validate_json(self.store.transcript(row.transcript_id).body)
        claim = transcript.claim_input()
        existing = self.chain.claim_of(claim.key)
        if existing:
            return self._adopt(row, existing)
        license = self.chain.license(transcript.license_id)
        if license is None or license["status"] not in SLASHABLE:
            return self.store.finish_claim(row.id, LOST,
                                           f"license {transcript.license_id} is no longer slashable")
        self._wait_out_skew(claim.served_at)
        quorum = self.chain.quorum_stake()
        known = {a: bytes.fromhex(s[2:]) for a, s in json.loads(row.attestations).items()}
        gathered = gather(transcript, claim, self.key, self.peers(), self.chain, known, quorum)
        self.store.save_attestations(row.id, gathered.attestations)
        if gathered.stake < quorum:
            raise Deferred(f"attesters hold {gathered.stake} of the {quorum} wei of stake a quorum needs: "
                           + "; ".join(gathered.errors))
        try:
            opened = self.chain.open_claim("0x" + self.key.hex(), claim, gathered.attestations,
                                           self.chain.claim_bond(license))
        except TransactionFailed as exc:
            if exc.error_name in ANSWER_TAKEN:  # someone (maybe we, before a crash) got there first
                return self._adopt(row, self.chain.claim_of(claim.key))
            raise Deferred(str(exc)) from None
        self.store.claim_opened(row.id, opened)

    def _wait_out_skew(self, served_at: int) -> None:
        """ClaimManager opens a claim only a clock skew after its answer was served (so that every
        σ that could clear it predates the claim), except for a receipt dated past that skew."""
        now, skew = self.chain.now(), self.chain.clock_skew
        if now < served_at + skew and served_at <= now + skew:
            raise Deferred(f"the answer was served at {served_at}; a claim may open from {served_at + skew} "
                           f"(chain time {now})")

    def _adopt(self, row: ClaimRow, claim_id: int) -> None:
        opened = self.chain.opened_claim(claim_id)
        if opened.record[CLAIMANT].lower() == self.address.lower():
            self.store.claim_opened(row.id, opened)
        else:
            self.store.finish_claim(row.id, LOST, f"claim {claim_id} on this leaf was opened by "
                                                  f"{opened.record[CLAIMANT]}")

    # ------------------------------------------------------------------ opened -> executed | refuted

    def _watch(self, row: ClaimRow) -> None:
        status = self.chain.claim_status(row.claim_id)
        if status == "Open":
            if self.chain.now() >= row.deadline:
                self._execute(row)
        elif status == "Executed":
            self.store.finish_claim(row.id, EXECUTED, "executed by another account")
        elif status in ("Refuted", "AttestersPenalized"):
            self.store.finish_claim(row.id, REFUTED,
                                    f"refuted with σ: the bond of {row.bond} wei went to the host")
        else:
            raise Deferred(f"claim {row.claim_id} has status {status} on chain")

    def _execute(self, row: ClaimRow) -> None:
        opened = OpenedClaim(row.claim_id, record_from_json(json.loads(row.record)), [])
        try:
            executed = self.chain.execute("0x" + self.key.hex(), opened)
        except TransactionFailed as exc:
            raise Deferred(str(exc)) from None  # e.g. refuted or executed meanwhile: read again next pass
        self.store.finish_claim(row.id, EXECUTED, f"slashed {executed['slashed']} wei; "
                                                  f"{executed['claimantPaid']} wei paid to this verifier")
