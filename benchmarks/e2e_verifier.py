"""Part 2 of `make bench-e2e`: verifier checks per second, over HTTP and in process.

A LocalChain license commits to fingerprints the benchmark made itself, so it can build prover
transcripts without a model: the "answer" is the fingerprint's response. Three kinds:

- honest, σ shown: the host got σ from the real permission service and returned it with the
  answer (the verifier checks the σ's signature against the chain's permission signer);
- honest, σ held: the service issued σ but the answer does not show it (the verifier asks the
  permission service);
- unpermitted: no σ exists; each uses its own leaf (a leaf can be claimed once), and each opens a
  claim: the verifier gathers its peers' attestations and opens the claim on chain meanwhile.

The baseline is `Verifier.check` in this process (no HTTP, no queue, no database). Then the
transcripts are handed to ONE of three verifier processes as an allowlisted prover (signed
requests, as services/prover/outbox.py signs them) and its /metrics counter is polled until every
transcript has a verdict. Verifiers check in the order transcripts arrived, so the i-th increment
of the counter is the i-th transcript's verdict: its latency is then minus its acceptance.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.e2e_env import environment
from oml_core.chain.clock import ChainClock
from oml_core.fingerprint.commit import commitment_tree
from oml_core.fingerprint.record import Fingerprint
from services.common.signed_requests import sign_headers
from services.common.transcript import RevealedFingerprint, Transcript
from services.host.receipts import ReceiptSigner
from services.permission.client import PermissionClient
from services.scenario import topology
from services.stack import LocalChain, address_of, sign_in_when_mirrored

SHOWN, HELD, UNPERMITTED = "honest, σ shown", "honest, σ held", "unpermitted"
CHECKED_SERIES = "oml_verifier_transcripts_checked_total"
TRANSCRIPTS_PATH = "/v1/transcripts"


@dataclass(frozen=True)
class VerifierLoad:
    shown: int = 150
    held: int = 40
    unpermitted: int = 4
    honest_keys: int = 8        # fingerprints the honest transcripts cycle through
    poll_interval_s: float = 0.1  # the verifier worker's pause between passes (default 2 s)
    timeout_s: float = 180.0

    def __post_init__(self):
        if min(self.shown, self.held, self.unpermitted) < 0 or self.total < 1:
            raise ValueError("transcript counts must be >= 0 and not all zero")
        if self.honest_keys < 1 or self.poll_interval_s <= 0 or self.timeout_s <= 0:
            raise ValueError("honest_keys >= 1, poll_interval_s > 0, timeout_s > 0")

    @property
    def total(self) -> int:
        return self.shown + self.held + self.unpermitted


@dataclass
class Batch:
    """The transcripts, in the order they are handed in, with their kind."""

    transcripts: list[Transcript]
    kinds: list[str]


def make_fingerprints(load: VerifierLoad) -> tuple[list[Fingerprint], list[Fingerprint]]:
    """(honest keys, one key per unpermitted transcript): disjoint, so no σ covers the latter."""
    honest = [Fingerprint(f"verifier bench key {i}", f"answer {i}") for i in range(load.honest_keys)]
    unpermitted = [Fingerprint(f"verifier bench unpermitted key {i}", f"secret {i}") for i in range(load.unpermitted)]
    return honest, unpermitted


def build_batch(client: PermissionClient, license_id: int, honest: list[Fingerprint],
                unpermitted: list[Fingerprint], load: VerifierLoad, prover: str, receipts: ReceiptSigner) -> Batch:
    """Transcripts of every kind, interleaved; honest ones get a real σ each (batches of 64);
    every answer carries the host gateway's receipt, as a real gateway's does."""
    tree = commitment_tree(honest + unpermitted)
    n_honest = load.shown + load.held
    fps = [honest[i % len(honest)] for i in range(n_honest)]
    sigmas: list[dict] = []
    for start in range(0, n_honest, 64):
        sigmas += client.permissions(license_id, [fp.query_hash for fp in fps[start:start + 64]])
    now = int(time.time())

    def transcript(fp: Fingerprint, permission: dict | None, n: int) -> Transcript:
        return Transcript(license_id=license_id, endpoint=f"http://bench-host/{n}", messages=fp.messages,
                          answer=fp.response, permission=permission,
                          receipt=receipts.sign(fp.query_hash, fp.response, permission),
                          fingerprint=RevealedFingerprint.of(fp, tree.proof(fp.leaf)), prover=prover,
                          sent_at=now, received_at=now)

    kinds = [SHOWN] * load.shown + [HELD] * load.held
    items = [(transcript(fp, sigma if kind == SHOWN else None, i), kind)
             for i, (fp, sigma, kind) in enumerate(zip(fps, sigmas, kinds, strict=True))]
    # spread the unpermitted ones evenly through the honest ones
    for j, fp in enumerate(unpermitted):
        position = (j + 1) * len(items) // (len(unpermitted) + 1)
        items.insert(position, (transcript(fp, None, n_honest + j), UNPERMITTED))
    return Batch([t for t, _ in items], [k for _, k in items])


@dataclass
class InProcessResult:
    seconds: dict[str, list[float]] = field(default_factory=dict)  # kind -> seconds per check
    verdicts: Counter = field(default_factory=Counter)             # (kind, verdict) -> count

    @property
    def rate(self) -> float:
        total = sum(sum(v) for v in self.seconds.values())
        return sum(len(v) for v in self.seconds.values()) / total if total else 0.0


def check_in_process(chain: LocalChain, key: str, permission_url: str, database_url: str,
                     batch: Batch) -> InProcessResult:
    """`Verifier.check` on every transcript, timed one by one, by a Verifier of `key` built in
    this process with nothing started (the baseline the service is compared with)."""
    from services.verifier.config import Settings
    from services.verifier.service import Verifier

    verifier = Verifier(Settings(key=key, deployment=chain.deployment_path, permission_url=permission_url,
                                 database_url=database_url))
    out = InProcessResult()
    try:
        for transcript, kind in zip(batch.transcripts, batch.kinds, strict=True):
            t0 = time.perf_counter()
            result = verifier.check(transcript)
            out.seconds.setdefault(kind, []).append(time.perf_counter() - t0)
            out.verdicts[(kind, result.verdict.value)] += 1
    finally:
        verifier.stop()
    return out


@dataclass
class ServiceResult:
    accepted_at: list[float]   # perf_counter when each transcript's POST returned 202
    verdict_at: list[float]    # perf_counter when the counter first showed its verdict
    submit_started: float
    verdicts: dict[str, int]   # the verifier's /metrics counts by verdict (after the run)

    @property
    def checks(self) -> int:
        return len(self.verdict_at)

    @property
    def seconds(self) -> float:
        return (self.verdict_at[-1] - self.submit_started) if self.verdict_at else 0.0

    @property
    def rate(self) -> float:
        return self.checks / self.seconds if self.seconds else 0.0

    @property
    def latencies(self) -> list[float]:
        return [done - accepted for accepted, done in zip(self.accepted_at, self.verdict_at)]


def checked_counts(metrics_text: str) -> dict[str, int]:
    """{verdict: count} of the checked-transcripts counter on a verifier's /metrics page."""
    out = {}
    for line in metrics_text.splitlines():
        if line.startswith(CHECKED_SERIES + "{"):
            labels, _, value = line.rpartition(" ")
            out[labels.split('"')[1]] = int(float(value))
    return out


def submit_and_wait(url: str, prover_key: str, batch: Batch, timeout_s: float,
                    poll_s: float = 0.02) -> ServiceResult:
    """POST every transcript (signed), polling /metrics between posts and afterwards until the
    checked counter has grown by len(batch) (TimeoutError otherwise)."""
    with httpx.Client(base_url=url, timeout=30) as http:
        base = sum(checked_counts(http.get("/metrics").text).values())
        accepted, done = [], []
        last_poll = 0.0

        def poll() -> None:
            nonlocal last_poll
            last_poll = time.perf_counter()
            count = sum(checked_counts(http.get("/metrics").text).values()) - base
            now = time.perf_counter()
            done.extend([now] * max(0, min(count, len(batch.transcripts)) - len(done)))

        started = time.perf_counter()
        for transcript in batch.transcripts:
            body = transcript.model_dump_json().encode()
            headers = {"Content-Type": "application/json", **sign_headers(prover_key, "POST", TRANSCRIPTS_PATH, body)}
            response = http.post(TRANSCRIPTS_PATH, content=body, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"{url} refused a transcript: {response.status_code} {response.text[:300]}")
            accepted.append(time.perf_counter())
            if time.perf_counter() - last_poll >= poll_s:
                poll()
        deadline = time.monotonic() + timeout_s
        while len(done) < len(batch.transcripts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(done)} of {len(batch.transcripts)} transcripts checked in {timeout_s:.0f} s")
            time.sleep(poll_s)
            poll()
        verdicts = checked_counts(http.get("/metrics").text)
    return ServiceResult(accepted, done, started, verdicts)


@dataclass
class VerifierResult:
    load: VerifierLoad
    in_process: InProcessResult
    service: ServiceResult
    batch_kinds: list[str]
    claims_opened: int


def prepare_load(chain: LocalChain, load: VerifierLoad, verifier_keys: list[str]):
    """A license whose fingerprints are `load`'s, the permission service, and the batch of
    transcripts; returns (permission service process, batch). `verifier_keys` are signed in once
    so that their lookups do not race the service's chain mirror."""
    a = chain.accounts
    honest, unpermitted = make_fingerprints(load)
    license_id = chain.add_license(a.hosts[0], honest + unpermitted, b"\x02" * 32)
    permission = topology.start_permission(chain)
    topology.wait_all([permission])
    with httpx.Client(base_url=permission.url, timeout=30) as http:
        client = PermissionClient(http)
        sign_in_when_mirrored(client, a.hosts[0], "host", license_id)
        receipts = ReceiptSigner(license_id, bytes.fromhex(a.hosts[0][2:]), chain.oml.receipt_domain,
                                 ChainClock.of(chain.w3))
        batch = build_batch(client, license_id, honest, unpermitted, load, address_of(a.provers[0]), receipts)
        for key in verifier_keys:  # lookups fail until the service's mirror has seen each verifier
            sign_in_when_mirrored(PermissionClient(http), key, "verifier")
    return permission, batch


def bench_verifier(workdir: Path, load: VerifierLoad, log) -> VerifierResult:
    with LocalChain.start(workdir, n_hosts=1, n_verifiers=4) as chain:
        a = chain.accounts
        permission, batch = prepare_load(chain, load, a.verifiers)

        # the baseline: the fourth staked verifier's Verifier, in this process, nothing started
        in_process = check_in_process(chain, a.verifiers[3], permission.url, f"sqlite:///{workdir}/verifier-local.db",
                                      batch)
        log(f"in process: {in_process.rate:,.0f} checks/s over {load.total} transcripts")

        with environment(OML_VERIFIER_POLL_INTERVAL_S=str(load.poll_interval_s)):
            verifiers = topology.start_verifiers(chain, permission.url, 3)
        topology.wait_all(verifiers)
        service = submit_and_wait(verifiers[0].url, a.provers[0], batch, load.timeout_s)
        log(f"service: {service.rate:,.1f} checks/s over {service.checks} transcripts")
        opened = _wait_claims_opened(verifiers[0].url, load.unpermitted, timeout_s=60)
    return VerifierResult(load, in_process, service, batch.kinds, opened)


def _wait_claims_opened(url: str, expected: int, timeout_s: float) -> int:
    """Claims the verifier opened on chain, once `expected` of them are (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    opened = 0
    while time.monotonic() < deadline:
        claims = httpx.get(f"{url}/v1/claims", timeout=10).json()["claims"]
        opened = sum(c["claim_id"] is not None for c in claims)
        if opened >= expected:
            break
        time.sleep(0.5)
    return opened
