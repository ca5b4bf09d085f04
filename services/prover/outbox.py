"""Handing transcripts to verifiers without ever dropping one.

A transcript is sealed into the outbox (committed) before the first delivery attempt. Delivery is
`POST {verifier}/v1/transcripts` with the transcript JSON, signed by the prover's key
(services/common/signed_requests.py); only a 202 counts as accepted. A round tries every
verifier once, starting at a rotating one so the load spreads; between rounds it pauses with a
doubling backoff. A transcript no verifier accepted stays pending with its next due time, and
`flush()` tries again (the daemon flushes between queries; restarts resume from the database).
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from services.common.database import Database
from services.common.signed_requests import sign_headers
from services.common.transcript import Transcript
from services.prover.db import OutboxRecord, QueryRecord
from services.prover.errors import NotConfigured, ProverError
from services.prover.sealing import Sealer
from services.prover.status import pending_transcripts

TRANSCRIPTS_PATH = "/v1/transcripts"


def _aad(query_id: int) -> bytes:
    return f"transcript:{query_id}".encode()


def transcript_id(transcript: Transcript) -> str:
    """How verifiers name a transcript: its evidence hash."""
    return "0x" + transcript.evidence_hash().hex()


@dataclass(frozen=True)
class FlushResult:
    delivered: int
    pending: int


def _error_code(response: httpx.Response) -> str:
    """The `error` code of a refusal; never its detail, which may quote the transcript (a secret
    until a claim reveals it) into our plaintext log."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        code = None
    return str(code)[:100] if code else ""


class Outbox:
    def __init__(self, db: Database, sealer: Sealer, signer_key: bytes | None, verifier_urls: list[str],
                 timeout_s: float, rounds: int, backoff_s: float, max_backoff_s: float):
        self.db, self.sealer, self.signer_key = db, sealer, signer_key
        self.verifier_urls, self.rounds = list(verifier_urls), rounds
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.http = httpx.Client(timeout=timeout_s)
        self._rotation = itertools.count()
        self._lock = threading.Lock()  # one delivery at a time: a transcript is never sent twice at once

    def put(self, query_id: int, license_id: int, transcript: Transcript) -> int:
        body = transcript.model_dump_json().encode()
        with self.db.write() as session:
            row = OutboxRecord(query_id=query_id, license_id=license_id, created_at=time.time(),
                               sealed=self.sealer.seal(body, _aad(query_id)))
            session.add(row)
            query = session.get(QueryRecord, query_id)
            query.status, query.transcript_id = "pending", transcript_id(transcript)
            session.flush()
            return row.id

    def deliver(self, outbox_id: int) -> str | None:
        """Rounds over the verifiers until one answers 202; its URL, or None (still pending)."""
        if self.signer_key is None:
            raise NotConfigured("delivering transcripts needs the prover key (OML_PROVER_KEY)")
        with self._lock:
            with self.db.read() as session:
                row = session.get(OutboxRecord, outbox_id)
                if row.delivered_at is not None:
                    return row.verifier
                body = self.sealer.open(row.sealed, _aad(row.query_id))
            errors: list[str] = []
            for round_ in range(self.rounds):
                if round_:
                    time.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** (round_ - 1)))
                for url in self._order():
                    error = self._post(url, body)
                    if error is None:
                        self._mark_delivered(outbox_id, url)
                        return url
                    errors.append(error)
            self._mark_failed(outbox_id, "; ".join(errors[-3:]) or "no verifier configured")
            return None

    def flush(self, due_only: bool = False) -> FlushResult:
        """Tries every pending transcript again (only those whose backoff is over, if due_only)."""
        query = select(OutboxRecord.id).where(OutboxRecord.delivered_at.is_(None)).order_by(OutboxRecord.id)
        if due_only:
            query = query.where(OutboxRecord.next_attempt_at <= time.time())
        with self.db.read() as session:
            ids = list(session.scalars(query))
        delivered = sum(self.deliver(outbox_id) is not None for outbox_id in ids)
        return FlushResult(delivered, pending_transcripts(self.db))

    def verdict(self, query_id: int) -> dict:
        """What the verifier that accepted the probe's transcript says about it now
        (GET /v1/transcripts/{id}: status, verdict, reason, claim)."""
        with self.db.read() as session:
            query = session.get(QueryRecord, query_id)
            if query is None or query.verifier is None or query.transcript_id is None:
                raise ProverError(f"query {query_id} has no transcript a verifier accepted")
            url, path = query.verifier, f"{TRANSCRIPTS_PATH}/{query.transcript_id}"
        if self.signer_key is None:
            raise NotConfigured("asking a verifier needs the prover key (OML_PROVER_KEY)")
        headers = sign_headers(self.signer_key, "GET", urlsplit(url).path.rstrip("/") + path)
        try:
            response = self.http.get(url + path, headers=headers)
        except httpx.HTTPError as exc:
            raise ProverError(f"{url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ProverError(f"{url}: HTTP {response.status_code} {_error_code(response)}")
        return response.json()

    def _order(self) -> list[str]:
        if not self.verifier_urls:
            return []
        start = next(self._rotation) % len(self.verifier_urls)
        return self.verifier_urls[start:] + self.verifier_urls[:start]

    def _post(self, url: str, body: bytes) -> str | None:
        """None when the verifier accepted the transcript, else why not."""
        path = urlsplit(url).path.rstrip("/") + TRANSCRIPTS_PATH
        headers = {"Content-Type": "application/json",
                   **sign_headers(self.signer_key, "POST", path, body)}
        try:
            response = self.http.post(url + TRANSCRIPTS_PATH, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{url}: {type(exc).__name__}"
        if response.status_code == 202:
            return None
        return f"{url}: HTTP {response.status_code} {_error_code(response)}"

    def _mark_delivered(self, outbox_id: int, url: str) -> None:
        with self.db.write() as session:
            row = session.get(OutboxRecord, outbox_id)
            row.delivered_at, row.verifier, row.attempts = time.time(), url, row.attempts + 1
            query = session.get(QueryRecord, row.query_id)
            query.status, query.verifier, query.detail = "delivered", url, None

    def _mark_failed(self, outbox_id: int, error: str) -> None:
        with self.db.write() as session:
            row = session.get(OutboxRecord, outbox_id)
            row.attempts += 1
            row.last_error = error[:500]
            row.next_attempt_at = time.time() + min(self.max_backoff_s, self.backoff_s * 2 ** row.attempts)
            session.get(QueryRecord, row.query_id).detail = row.last_error

    def close(self) -> None:
        self.http.close()
