"""Smoke tests of `make bench-e2e`'s measuring functions with a tiny model and tiny sizes: the
figures they compute must follow from what was measured, so that a broken measurement (σ never
obtained, a counter that does not move, a ratio turned around) fails here, not in a report."""
from __future__ import annotations

import secrets
import time

import httpx
import pytest

from benchmarks import e2e_report as report
from benchmarks.e2e_detection import STAGES, DetectionLoad, DetectionResult, ProbeTiming
from benchmarks.e2e_env import environment
from benchmarks.e2e_gateway import (
    WITH_SIGMA,
    WITHOUT_SIGMA,
    GatewayLoad,
    GatewayPhase,
    GatewayResult,
    measure_gateway,
    percentile_ms,
    sigma_overhead,
    sigma_round_trips,
)
from benchmarks.e2e_verifier import (
    UNPERMITTED,
    Batch,
    VerifierLoad,
    check_in_process,
    checked_counts,
    prepare_load,
    submit_and_wait,
)
from services.permission import testing
from services.scenario import topology
from services.stack import LocalChain


def _phase(mode: str, requests: int, seconds: float, round_: int = 1) -> GatewayPhase:
    return GatewayPhase(mode, round_, latencies=[seconds / requests] * requests, seconds=seconds)


def test_percentile_is_nearest_rank_in_milliseconds():
    values = [0.001 * i for i in range(1, 101)]  # 1..100 ms
    assert percentile_ms(values, 50) == pytest.approx(50.0)
    assert percentile_ms(values, 99) == pytest.approx(99.0)
    assert percentile_ms([0.2], 99) == pytest.approx(200.0)
    assert percentile_ms([], 50) != percentile_ms([], 50)  # NaN


def test_sigma_overhead_pools_rounds_and_compares_with_sigma_against_without():
    with_sigma = [_phase(WITH_SIGMA, 9, 10.0), _phase(WITH_SIGMA, 9, 8.0, 2)]        # 18 in 18 s
    without = [_phase(WITHOUT_SIGMA, 10, 10.0), _phase(WITHOUT_SIGMA, 10, 10.0, 2)]  # 20 in 20 s
    assert sigma_overhead(with_sigma, without) == pytest.approx(0.0)
    slower = [_phase(WITH_SIGMA, 8, 10.0), _phase(WITH_SIGMA, 8, 10.0, 2)]
    assert sigma_overhead(slower, without) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        sigma_overhead(slower, [])


@pytest.fixture(scope="module")
def tiny_generator():
    from oml_core.model.loading import tiny_model
    from services.host.generation import Generator

    model, tokenizer = tiny_model(seed=0)
    return Generator(model, tokenizer)


@pytest.fixture(scope="module")
def unchained_permission(tmp_path_factory):
    """The real permission service (mirror off) with license 1 of a fresh host key."""
    workdir = tmp_path_factory.mktemp("permission")
    url, host_key = f"sqlite:///{workdir}/permission.db", secrets.token_bytes(32)
    testing.seed_license(url, host_key, 1)
    with testing.PermissionProcess(url, secrets.token_bytes(32), workdir / "permission.log") as service:
        yield service, host_key


def _gateway_app(permission_url: str, host_key: bytes, model_dir, database, skip: float, generator):
    from services.host.app import create_app
    from services.host.config import HostSettings
    from services.host.gateway import build_gateway

    settings = HostSettings(model=model_dir, license_id=1, permission_url=permission_url, host_key=host_key.hex(),
                            database_url=f"sqlite:///{database}", skip_permission_share=skip)
    gateway = build_gateway(settings, generator=generator, watch=False)
    return gateway, create_app(gateway)


def test_gateway_measurement_counts_sigma_per_mode(unchained_permission, tiny_generator, tmp_path):
    service, host_key = unchained_permission
    load = GatewayLoad(max_tokens=4, concurrency=2, requests=6, warmup_requests=2)
    measured = {}
    for mode, skip in ((WITH_SIGMA, 0.0), (WITHOUT_SIGMA, 1.0)):
        gateway, app = _gateway_app(service.url, host_key, tmp_path, tmp_path / f"{skip}.db", skip, tiny_generator)
        try:
            measured[mode] = measure_gateway("http://gateway", mode, 1, load, transport=httpx.ASGITransport(app))
        finally:
            gateway.stop()
    with_sigma, without = measured[WITH_SIGMA], measured[WITHOUT_SIGMA]
    for phase in (with_sigma, without):
        assert not phase.errors
        assert phase.requests == load.requests and phase.seconds > 0
        assert phase.rps == pytest.approx(load.requests / phase.seconds)
        assert 0 < phase.percentile_ms(50) <= phase.percentile_ms(99) <= 1000 * phase.seconds
        assert 0 < phase.completion_tokens <= load.requests * load.max_tokens
    # every answer with σ carries one, none without; /metrics saw the warm-up's σ too
    assert (with_sigma.answers_with_sigma, with_sigma.answers_without_sigma) == (load.requests, 0)
    assert (without.answers_with_sigma, without.answers_without_sigma) == (0, load.requests)
    assert with_sigma.sigma_received == load.requests + load.warmup_requests
    assert 1 <= with_sigma.sigma_batches <= with_sigma.sigma_received
    assert (without.sigma_received, without.sigma_batches) == (0, 0)
    trips = sigma_round_trips(service.url, "0x" + host_key.hex(), 1, 5)
    assert len(trips) == 5 and all(0 < t < 5 for t in trips)


def test_checked_counts_reads_the_verifier_counter():
    from services.verifier.metrics import render

    counts = checked_counts(render({"verdicts": {"honest": 3, "unpermitted": 1}, "opened": {"": 1}}))
    assert counts["honest"] == 3 and counts["unpermitted"] == 1
    assert sum(counts.values()) == 4  # the other verdicts are exported as zeros


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    with LocalChain.start(tmp_path_factory.mktemp("chain"), n_hosts=1, n_verifiers=4) as local:
        yield local


def test_verifier_measurement_times_every_verdict(chain, tmp_path):
    a = chain.accounts
    load = VerifierLoad(shown=4, held=2, unpermitted=1, honest_keys=3)
    permission, batch = prepare_load(chain, load, a.verifiers[:2])
    assert len(batch.transcripts) == load.total and batch.kinds.count(UNPERMITTED) == 1
    assert batch.kinds[0] != UNPERMITTED and batch.kinds[-1] != UNPERMITTED  # spread, not appended

    in_process = check_in_process(chain, a.verifiers[1], permission.url, f"sqlite:///{tmp_path}/local.db", batch)
    verdicts = {(kind, verdict) for kind, verdict in in_process.verdicts}
    assert verdicts == {("honest, σ shown", "honest"), ("honest, σ held", "honest"), (UNPERMITTED, "unpermitted")}
    assert in_process.rate > 0

    with environment(OML_VERIFIER_POLL_INTERVAL_S="0.1"):
        (verifier,) = topology.start_verifiers(chain, permission.url, 1)
    topology.wait_all([verifier])
    result = submit_and_wait(verifier.url, a.provers[0], batch, timeout_s=60)
    assert result.checks == load.total
    assert result.verdicts["honest"] == load.shown + load.held and result.verdicts["unpermitted"] == 1
    assert all(b >= a for a, b in zip(result.verdict_at, result.verdict_at[1:]))  # in arrival order
    assert all(latency > 0 for latency in result.latencies)
    assert result.rate == pytest.approx(load.total / result.seconds)
    # handing the same batch in again adds no verdict (content-addressed): the wait must time out
    with pytest.raises(TimeoutError):
        submit_and_wait(verifier.url, a.provers[0], Batch(batch.transcripts[:1], batch.kinds[:1]), timeout_s=1)


def _synthetic_results(tmp_path):
    g = GatewayResult([_phase(WITH_SIGMA, 8, 4.0), _phase(WITHOUT_SIGMA, 8, 3.9)], [0.004, 0.005],
                      GatewayLoad(), "tiny")
    from benchmarks.e2e_verifier import InProcessResult, ServiceResult, VerifierResult

    now = time.perf_counter()
    v = VerifierResult(VerifierLoad(shown=2, held=0, unpermitted=0),
                       InProcessResult({"honest, σ shown": [0.01, 0.02]}, {("honest, σ shown", "honest"): 2}),
                       ServiceResult([now, now + 0.1], [now + 0.2, now + 0.3], now, {"honest": 2}),
                       ["honest, σ shown"] * 2, 0)
    d = DetectionResult(DetectionLoad(probes=2), [ProbeTiming(0.5, 2.0, 3.0, 1), ProbeTiming(0.7, 2.5, 2.0, 2)],
                        challenge_window=60)
    return g, v, d


def test_detection_stages_follow_the_probe_timeline():
    _, _, d = _synthetic_results(None)
    assert d.stage(STAGES[0]) == [0.5, 0.7]
    assert d.stage(STAGES[1]) == pytest.approx([1.5, 1.8])
    assert d.stage(STAGES[2]) == [2.0, 2.5]
    assert d.stage(STAGES[3]) == [3.0, 2.0]


def test_report_section_and_figure(tmp_path):
    g, v, d = _synthetic_results(tmp_path)
    body = report.render(g, v, d, 12.0, {"at the start": 1.25})
    assert f"{g.overhead:+.1%}" in body and "σ round trip" in body and "at the start 1.2" in body
    assert f"{v.service.rate:,.1f}" in body and f"{v.in_process.rate:,.0f}" in body
    target = tmp_path / "BENCHMARKS.md"
    target.write_text("# Benchmarks\n\n## Earlier\n")
    report.record(target, body, "Method: test.")
    text = target.read_text()
    assert text.startswith("# Benchmarks\n\n## Earlier\n") and "## End to end (`make bench-e2e`)" in text
    report.plot(tmp_path / "e2e.png", g, v, d)
    assert (tmp_path / "e2e.png").stat().st_size > 10_000
