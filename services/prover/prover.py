"""The prover: key pool + hosts + outbox + log, and the randomized schedule that drives them.

A probe takes a key (marked used and committed first), sends exactly the fingerprint's messages
at temperature 0, seals the transcript into the outbox and hands it to a verifier. A benign query
sends an ordinary question the same way, so the two look alike on the wire.
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from eth_account import Account

from oml_core.fingerprint.commit import Commitment
from oml_core.fingerprint.record import Fingerprint
from services.common.transcript import RevealedFingerprint, Transcript
from services.prover.benign import BenignPrompts
from services.prover.config import ProverSettings
from services.prover.db import open_database
from services.prover.errors import NoKeysLeft, NotConfigured
from services.prover.hosts import Answer, HostClient, HostError, Target
from services.prover.keypool import KeyPool, LoadResult
from services.prover.outbox import FlushResult, Outbox
from services.prover.querylog import QueryLog
from services.prover.schedule import BENIGN, PROBE, Schedule
from services.prover.sealing import Sealer
from services.prover.status import ProverStatus, pending_transcripts, read_status

EXTRA_TOKENS = 4  # slack beyond the response, so a host's extra leading space does not cut it


@dataclass(frozen=True)
class ProbeResult:
    """The local outcome of one probe (what the demo reports)."""

    license_id: int
    query_id: int
    status: str                  # delivered | pending (no verifier accepted yet) | host_error
    permission_id: str | None
    had_permission: bool
    carried_fingerprint: bool    # the answer started with the fingerprint's response
    verifier: str | None         # who accepted the transcript
    transcript: Transcript | None
    detail: str | None = None


@dataclass(frozen=True)
class RunSummary:
    probes: int
    benign: int
    host_errors: int
    pending: int


class Prover:
    def __init__(self, settings: ProverSettings, tokenizer=None):
        """`tokenizer` (optional) sizes a probe's max_tokens exactly; without it the response's
        UTF-8 length bounds its token count (byte-level BPE never needs more tokens than bytes)."""
        self.settings, self.tokenizer = settings, tokenizer
        self.db = open_database(settings.database_url)
        passphrase = settings.passphrase.get_secret_value() if settings.passphrase else None
        sealer = Sealer.for_database(self.db, passphrase)
        key = settings.key_bytes()
        self.address = Account.from_key(key).address if key else None
        self.keys = KeyPool(self.db, sealer)
        self.log = QueryLog(self.db)
        self.outbox = Outbox(self.db, sealer, key, settings.verifier_urls, settings.request_timeout_s,
                             settings.delivery_rounds, settings.retry_backoff_s, settings.max_backoff_s)
        self.hosts = HostClient(settings.request_timeout_s)
        self.rng = random.Random(settings.seed)
        self.prompts = BenignPrompts(self.rng, settings.benign_prompts_file)
        self._stop = threading.Event()

    def load(self, license_id: int, fingerprints: list[Fingerprint], commitment: Commitment | None = None,
             expected_root: bytes | None = None) -> LoadResult:
        """Seal the license's fingerprints (see KeyPool.add)."""
        return self.keys.add(license_id, fingerprints, commitment, expected_root)

    def probe(self, target: Target) -> ProbeResult:
        """One fingerprint probe of `target` now; its transcript is handed to a verifier."""
        if self.address is None:
            raise NotConfigured("probing needs the prover key (OML_PROVER_KEY): it signs the transcripts")
        taken = self.keys.take(target.license_id)
        fp = taken.fingerprint
        query_id = self.log.start(target.license_id, PROBE, taken.key_id)
        try:
            answer = self.hosts.ask(target, fp.messages, self._budget(fp))
        except HostError as exc:
            self.log.failed(query_id, str(exc))
            return ProbeResult(target.license_id, query_id, "host_error", None, False, False, None, None,
                               str(exc))
        transcript = self._transcript(target, fp.messages, answer, RevealedFingerprint.of(fp, taken.proof))
        matched = transcript.carries_fingerprint()
        self.log.answered(query_id, answer, matched)
        verifier = self.outbox.deliver(self.outbox.put(query_id, target.license_id, transcript))
        return ProbeResult(target.license_id, query_id, "delivered" if verifier else "pending",
                           answer.permission_id, transcript.permission is not None, matched, verifier,
                           transcript)

    def benign(self, target: Target) -> Answer:
        """One ordinary question to `target` now; HostError when the host does not answer."""
        query_id = self.log.start(target.license_id, BENIGN)
        cap = self.settings.max_tokens
        try:
            answer = self.hosts.ask(target, self.prompts.draw(), self.rng.randint(min(16, cap), cap))
        except HostError as exc:
            self.log.failed(query_id, str(exc))
            raise
        self.log.answered(query_id, answer)
        return answer

    def run(self, targets: Sequence[Target], duration_s: float | None = None,
            max_queries: int | None = None) -> RunSummary:
        """Query `targets` at random times until `duration_s` passed, `max_queries` were sent, or
        stop() was called (neither limit: until stop()); pending transcripts are retried between
        queries."""
        schedule = Schedule(self.rng, targets, self.settings.probe_share, self.settings.mean_interval_s)
        self._stop.clear()
        start = time.monotonic()
        due, counts = start, {PROBE: 0, BENIGN: 0, "host_error": 0}
        while max_queries is None or counts[PROBE] + counts[BENIGN] < max_queries:
            step = schedule.next()
            due += step.delay_s
            if duration_s is not None and due - start > duration_s:
                break
            if self._stop.wait(max(0.0, due - time.monotonic())):
                break
            kind, answered = self._query(step.kind, step.target)
            counts[kind] += 1
            counts["host_error"] += not answered
            self.outbox.flush(due_only=True)
        return RunSummary(counts[PROBE], counts[BENIGN], counts["host_error"], pending_transcripts(self.db))

    def _query(self, kind: str, target: Target) -> tuple[str, bool]:
        """One scheduled query: the kind it became (a license without keys left gets a benign
        one) and whether the host answered (failures are already logged)."""
        if kind == PROBE:
            try:
                return PROBE, self.probe(target).status != "host_error"
            except NoKeysLeft:
                pass
        try:
            self.benign(target)
        except HostError:
            return BENIGN, False
        return BENIGN, True

    def stop(self) -> None:
        """Ends run() at its next wait (e.g. from a signal handler)."""
        self._stop.set()

    def flush(self) -> FlushResult:
        """Retry every pending transcript now."""
        return self.outbox.flush()

    def verdict(self, query_id: int) -> dict:
        """The verifier's view of a delivered probe (ProbeResult.query_id)."""
        return self.outbox.verdict(query_id)

    def status(self) -> ProverStatus:
        return read_status(self.db)

    def close(self) -> None:
        self.hosts.close()
        self.outbox.close()
        self.db.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _budget(self, fp: Fingerprint) -> int:
        if self.tokenizer is not None:
            from oml_core.fingerprint.tokens import response_ids

            needed = len(response_ids(self.tokenizer, fp.response))
        else:
            needed = len(fp.response.encode())
        return min(self.settings.max_tokens, needed + EXTRA_TOKENS)

    def _transcript(self, target: Target, messages: list[dict], answer: Answer,
                    fingerprint: RevealedFingerprint) -> Transcript:
        permission = answer.permission if isinstance(answer.permission, dict) else None
        receipt = answer.receipt if isinstance(answer.receipt, dict) else None
        return Transcript(license_id=target.license_id, endpoint=target.url, model=target.model,
                          messages=messages, answer=answer.text, permission=permission, receipt=receipt,
                          fingerprint=fingerprint, prover=self.address, sent_at=answer.sent_at,
                          received_at=answer.received_at)
