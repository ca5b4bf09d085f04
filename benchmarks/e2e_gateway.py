"""Part 1 of `make bench-e2e`: host gateway throughput with σ(q) against the same gateway serving
without σ, measured in the same run.

One LocalChain license, the real permission service, and the real `oml host serve` over a model
directory, started twice: one gateway with σ (skip_permission_share 0), one serving without σ
(skip_permission_share 1.0). They are driven one at a time, never both at once (they would share
the same cores), in short runs whose order flips every round (ABBA...), so that both modes see the
same background load. Every run gets the same fixed prompts, the same max_tokens at temperature 0
and the same number of concurrent clients; each gateway gets an unmeasured warm-up first.
"""
from __future__ import annotations

import asyncio
import itertools
import secrets
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.e2e_env import environment
from oml_core.chain.anvil import free_port
from oml_core.fingerprint.record import Fingerprint
from services.common.answer import OML_FIELD
from services.prover.benign import BUILT_IN
from services.scenario import topology
from services.stack import LocalChain, sign_in_when_mirrored

WITH_SIGMA, WITHOUT_SIGMA = "with σ", "without σ"
SKIP_SHARE = {WITH_SIGMA: 0.0, WITHOUT_SIGMA: 1.0}

PROMPTS = BUILT_IN[:8]  # the prover's cover traffic: ordinary questions


@dataclass(frozen=True)
class GatewayLoad:
    """What every measured run of the gateway gets (the same for both modes)."""

    max_tokens: int = 16
    concurrency: int = 4
    requests: int = 8          # measured requests per run (one mode, one round)
    warmup_requests: int = 8   # unmeasured, before each mode's first run (and its first σ sign-in)
    prompts: tuple[str, ...] = PROMPTS

    def __post_init__(self):
        if self.max_tokens < 1 or self.concurrency < 1 or self.requests < 1 or self.warmup_requests < 0:
            raise ValueError("max_tokens, concurrency and requests must be >= 1, warmup_requests >= 0")
        if not self.prompts:
            raise ValueError("at least one prompt")


@dataclass
class GatewayPhase:
    """One measured run of one mode."""

    mode: str
    round: int
    latencies: list[float] = field(default_factory=list)  # seconds per answered request
    seconds: float = 0.0                                   # wall time of the measured window
    answers_with_sigma: int = 0
    answers_without_sigma: int = 0
    completion_tokens: int = 0
    errors: Counter = field(default_factory=Counter)
    sigma_batches: int = 0   # from the gateway's /metrics after the run (warm-up included)
    sigma_received: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        return percentile_ms(self.latencies, p)


def percentile_ms(latencies: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of latencies in seconds, in milliseconds; NaN if none."""
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))  # ceil(n·p/100), within 1..n
    return 1000 * ordered[int(rank) - 1]


def sigma_overhead(with_sigma: list[GatewayPhase], without_sigma: list[GatewayPhase]) -> float:
    """1 − rps_with/rps_without over all rounds (requests ÷ seconds summed per mode)."""
    def pooled(phases: list[GatewayPhase]) -> float:
        seconds = sum(p.seconds for p in phases)
        return sum(p.requests for p in phases) / seconds if seconds else 0.0

    baseline = pooled(without_sigma)
    if not baseline:
        raise ValueError("no throughput without σ to compare with")
    return 1 - pooled(with_sigma) / baseline


async def _drive(client: httpx.AsyncClient, load: GatewayLoad, phase: GatewayPhase, count: int,
                 record: bool) -> None:
    prompts = itertools.cycle(load.prompts)
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            body = {"model": "oml", "messages": [{"role": "user", "content": next(prompts)}],
                    "max_tokens": load.max_tokens, "temperature": 0}
            t0 = time.perf_counter()
            try:
                response = await client.post("/v1/chat/completions", json=body)
            except httpx.HTTPError as exc:
                phase.errors[type(exc).__name__] += 1
                continue
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                phase.errors[f"HTTP {response.status_code}"] += 1
                continue
            payload = response.json()
            if not record:
                continue
            phase.latencies.append(elapsed)
            phase.completion_tokens += int(payload.get("usage", {}).get("completion_tokens", 0))
            if (payload.get(OML_FIELD) or {}).get("permission"):
                phase.answers_with_sigma += 1
            else:
                phase.answers_without_sigma += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(load.concurrency)))
    if record:
        phase.seconds = time.perf_counter() - started


def measure_gateway(base_url: str, mode: str, round_: int, load: GatewayLoad, warm_up: bool = True,
                    transport: httpx.AsyncBaseTransport | None = None) -> GatewayPhase:
    """(Warm-up, then) `load.requests` requests from `load.concurrency` clients; reads /metrics after."""
    phase = GatewayPhase(mode, round_)

    async def run() -> None:
        limits = httpx.Limits(max_connections=load.concurrency, max_keepalive_connections=load.concurrency)
        async with httpx.AsyncClient(base_url=base_url, transport=transport, limits=limits, timeout=300) as client:
            warmup = GatewayPhase(mode, round_)
            await _drive(client, load, warmup, load.warmup_requests if warm_up else 0, record=False)
            phase.errors.update({f"warm-up {k}": v for k, v in warmup.errors.items()})
            await _drive(client, load, phase, load.requests, record=True)
            metrics = parse_metrics((await client.get("/metrics")).text)
            phase.sigma_batches = int(metrics.get("oml_host_permission_batches_total", 0))
            phase.sigma_received = int(metrics.get("oml_host_permissions_total", 0))

    asyncio.run(run())
    return phase


def parse_metrics(text: str) -> dict[str, float]:
    """{series: value} of a Prometheus text page (labels kept in the series name)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def sigma_round_trips(permission_url: str, host_key: str, license_id: int, n: int) -> list[float]:
    """Seconds per σ as the gateway gets it alone: one `POST /v1/permissions/batch` of one hash
    (the gateway's call when requests do not overlap), signed in as the license's host."""
    from services.permission.client import PermissionClient

    with httpx.Client(base_url=permission_url, timeout=30) as http:
        client = PermissionClient(http)
        sign_in_when_mirrored(client, host_key, "host", license_id)
        client.permissions(license_id, [secrets.token_bytes(32)])  # warm-up
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.permissions(license_id, [secrets.token_bytes(32)])
            out.append(time.perf_counter() - t0)
    return out


@dataclass
class GatewayResult:
    phases: list[GatewayPhase]
    sigma_latencies: list[float]  # seconds, see sigma_round_trips
    load: GatewayLoad
    model: str
    model_threads: int = 1

    def of(self, mode: str) -> list[GatewayPhase]:
        return [p for p in self.phases if p.mode == mode]

    @property
    def overhead(self) -> float:
        return sigma_overhead(self.of(WITH_SIGMA), self.of(WITHOUT_SIGMA))

    def round_overheads(self) -> list[float]:
        """1 − rps_with/rps_without of each round (its two runs ran back to back)."""
        return [1 - w.rps / wo.rps for w, wo in zip(self.of(WITH_SIGMA), self.of(WITHOUT_SIGMA), strict=True)
                if wo.rps]


def bench_gateway(workdir: Path, model_dir: Path, model_name: str, load: GatewayLoad, rounds: int, log,
                  sigma_samples: int = 100, model_threads: int = 1) -> GatewayResult:
    """The whole part: chain, license, permission service, one gateway per mode, then `rounds`
    rounds of one measured run per mode (the order flips every round: ABBA...).

    `model_threads` (OMP_NUM_THREADS of the gateways): on two cores, one for the model leaves the
    other to the σ path (permission service, chain, clients); a model spinning on both cores
    would make σ wait behind it, and on a busy machine two-thread torch stalls on descheduled
    threads (measured here: 1.1 to 12 s for the same 16 tokens with 2 threads, 1.7 to 2.2 s with 1)."""
    phases: list[GatewayPhase] = []
    with LocalChain.start(workdir, n_hosts=1, n_verifiers=1) as chain:
        host_key = chain.accounts.hosts[0]
        # the gateway never checks the root or weights hash: a stand-in commitment is enough here
        license_id = chain.add_license(host_key, [Fingerprint(f"bench key {i}", "x") for i in range(4)], b"\x01" * 32)
        permission = topology.start_permission(chain)
        topology.wait_all([permission])
        sigma = sigma_round_trips(permission.url, host_key, license_id, sigma_samples)
        log(f"σ round trip (host → permission service, one hash): p50 {percentile_ms(sigma, 50):.1f} ms")
        # Both gateways stay up and only one is ever driven: the idle one waits on its socket.
        # Short alternating runs see the same background load on this shared machine, which one
        # long run per mode would not.
        hosts = {}
        for mode in (WITH_SIGMA, WITHOUT_SIGMA):
            plan = topology.HostPlan("sigma" if mode == WITH_SIGMA else "nosigma", skip_permission_share=SKIP_SHARE[mode])
            with environment(OMP_NUM_THREADS=str(model_threads)):
                hosts[mode] = topology.start_host(chain, host_key, license_id, model_dir, permission.url, plan,
                                                  free_port())
            topology.wait_all([hosts[mode]], timeout=300)  # one model load at a time
        for round_ in range(1, rounds + 1):
            order = (WITH_SIGMA, WITHOUT_SIGMA) if round_ % 2 else (WITHOUT_SIGMA, WITH_SIGMA)
            for mode in order:
                phase = measure_gateway(hosts[mode].url, mode, round_, load, warm_up=round_ == 1)
                log(f"round {round_}, {mode}: {phase.rps:.2f} requests/s, p50 {phase.percentile_ms(50):.0f} ms, "
                    f"p99 {phase.percentile_ms(99):.0f} ms, errors {sum(phase.errors.values())}")
                phases.append(phase)
    return GatewayResult(phases, sigma, load, model_name, model_threads)


def mean_ms(latencies: list[float]) -> float:
    return 1000 * statistics.fmean(latencies) if latencies else float("nan")
