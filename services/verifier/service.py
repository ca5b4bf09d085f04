"""The verifier: wiring (chain, database, permission service, peers) and its operations.

`Verifier.process(transcript)` is the synchronous library function (tests, the demo): store,
check, and drive the claim as far as it can go now. The HTTP service runs the same `run_once`
pass on a background worker instead.
"""
from __future__ import annotations

import logging
import threading
import time

import httpx

from oml_core import typed_data as td
from oml_core.chain.client import connect
from oml_core.chain.deployment import Deployment
from oml_core.contracts import OMLContracts
from services.common.transcript import Transcript
from services.verifier.chain import ChainView
from services.verifier.checks import check_transcript
from services.verifier.claims import ClaimDriver, Deferred
from services.verifier.config import Settings
from services.verifier.db import Database
from services.verifier.permission_lookup import PermissionLookup
from services.verifier.store import Store, transcript_id
from services.verifier.verdicts import CheckResult, Unavailable, Verdict
from services.verifier.views import claim_view, transcript_view
from services.verifier.worker import Worker

log = logging.getLogger(__name__)


class Verifier:
    def __init__(self, settings: Settings, permission_http: httpx.Client | None = None,
                 peers: list[httpx.Client] | None = None):
        """`permission_http` and `peers` default to clients of the configured URLs (tests pass
        in-process clients instead)."""
        self.settings = settings
        self.key, self.address = settings.key_bytes, settings.address
        deployment = Deployment.load(settings.deployment)
        self.chain = ChainView(OMLContracts(connect(settings.rpc_url or deployment.rpc_url), deployment))
        self.db = Database(settings.database_url)
        self.store = Store(self.db)
        timeout = settings.request_timeout_s
        self._owned_http = []
        if permission_http is None:
            permission_http = self._own(httpx.Client(base_url=settings.permission_url, timeout=timeout))
        self.permissions = PermissionLookup(permission_http, self.key)
        self.peers = peers if peers is not None else [
            self._own(httpx.Client(base_url=url, timeout=timeout)) for url in settings.peers]
        self.claims = ClaimDriver(self.chain, self.store, self.key, self.address, lambda: self.peers)
        self.worker = Worker(self.run_once, settings.poll_interval_s)
        self._pass_lock = threading.Lock()  # one pass at a time: it is the only sender of transactions

    def _own(self, client: httpx.Client) -> httpx.Client:
        self._owned_http.append(client)
        return client

    # ------------------------------------------------------------------ checks

    def check(self, transcript: Transcript) -> CheckResult:
        """The full check; Unavailable when the chain or the permission service does not answer."""
        return check_transcript(transcript, self.chain, self.permissions)

    def attest(self, transcript: Transcript, claimant: str) -> tuple[CheckResult, bytes | None]:
        """A peer's request: check independently; sign the attestation only for UNPERMITTED."""
        result = self.check(transcript)
        self.store.add_peer_check(transcript_id(transcript), claimant, result)
        if result.verdict != Verdict.UNPERMITTED:
            return result, None
        digest = transcript.claim_input().attestation(claimant).digest(self.chain.attestation_domain)
        return result, td.sign_digest(digest, self.key)

    # ------------------------------------------------------------------ work

    def submit(self, transcript: Transcript) -> dict:
        row = self.store.add_transcript(transcript)
        return self.transcript_status(row.id)

    def process(self, transcript: Transcript) -> dict:
        """Submit and run one pass now: the transcript's status afterwards."""
        tid = self.submit(transcript)["transcript_id"]
        self.run_once()
        return self.transcript_status(tid)

    def run_once(self) -> None:
        """Check the transcripts that are due, then move every due claim one step."""
        with self._pass_lock:
            now = time.time()
            for row in self.store.due_transcripts(now):
                self._check_stored(row)
            for claim in self.store.due_claims(now):
                try:
                    self.claims.advance(claim)
                except (Deferred, Unavailable) as exc:
                    self.store.defer_claim(claim.id, str(exc), self._backoff(claim.attempts))
                except Exception as exc:  # a bug or a surprise from the node: keep the claim, log, retry
                    log.exception("claim %s: unexpected failure", claim.id)
                    self.store.defer_claim(claim.id, _describe(exc), self._backoff(claim.attempts))

    def _check_stored(self, row) -> None:
        transcript = Transcript.model_validate_json(row.body)
        try:
            result = self.check(transcript)
        except Unavailable as exc:
            return self.store.defer_transcript(row.id, str(exc), self._backoff(row.attempts))
        except Exception as exc:
            log.exception("transcript %s: unexpected failure", row.id)
            return self.store.defer_transcript(row.id, _describe(exc), self._backoff(row.attempts))
        self.store.record_verdict(row.id, result, transcript.fingerprint.fingerprint().leaf)

    def _backoff(self, attempts: int) -> float:
        return min(self.settings.retry_max_s, self.settings.poll_interval_s * 2 ** min(attempts, 16))

    # ------------------------------------------------------------------ views

    def transcript_status(self, tid: str) -> dict | None:
        row = self.store.transcript(tid)
        if row is None:
            return None
        claim = self.store.claim(row.claim_row) if row.claim_row is not None else None
        return transcript_view(row, claim)

    def claim_list(self) -> list[dict]:
        return [claim_view(c) for c in self.store.claims()]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
        for client in self._owned_http:
            client.close()
        self.db.dispose()


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
