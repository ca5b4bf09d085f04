"""What `make bench-e2e` prints and records: rows shared by the rich tables and the Markdown
section of docs/BENCHMARKS.md, and the figure docs/bench_e2e.png."""
from __future__ import annotations

import datetime as dt
import os
import statistics
from pathlib import Path

from benchmarks.e2e_detection import STAGES, DetectionResult
from benchmarks.e2e_gateway import WITH_SIGMA, WITHOUT_SIGMA, GatewayResult, mean_ms, percentile_ms
from benchmarks.e2e_verifier import HELD, SHOWN, UNPERMITTED, VerifierResult
from benchmarks.report import machine_line

TARGET_SIGMA_OVERHEAD = 0.05  # issue 4: σ costs under 5% of serving time


def gateway_rows(g: GatewayResult) -> list[list[str]]:
    rows = []
    for p in g.phases:
        tokens = p.completion_tokens / p.requests if p.requests else 0
        rows.append([str(p.round), p.mode, f"{p.requests}", f"{p.rps:.2f}", f"{p.percentile_ms(50):.0f}",
                     f"{p.percentile_ms(99):.0f}", f"{tokens:.1f}", f"{p.answers_with_sigma}/{p.requests}",
                     f"{p.sigma_received}/{p.sigma_batches}", str(sum(p.errors.values()))])
    for mode in (WITH_SIGMA, WITHOUT_SIGMA):
        phases = g.of(mode)
        lat = [x for p in phases for x in p.latencies]
        seconds = sum(p.seconds for p in phases)
        rps = len(lat) / seconds if seconds else 0.0
        rows.append(["all", mode, str(len(lat)), f"{rps:.2f}", f"{percentile_ms(lat, 50):.0f}",
                     f"{percentile_ms(lat, 99):.0f}", "", "", "", ""])
    return rows


GATEWAY_COLUMNS = ["round", "mode", "requests", "requests/s", "p50 ms", "p99 ms", "tokens/answer",
                   "answers with σ", "σ received/batches", "errors"]


def gateway_summary(g: GatewayResult) -> list[tuple[str, str]]:
    without = g.of(WITHOUT_SIGMA)
    seconds = sum(p.seconds for p in without)
    rps_without = sum(p.requests for p in without) / seconds if seconds else 0.0
    sigma_p50 = percentile_ms(g.sigma_latencies, 50)
    rounds = g.round_overheads()
    return [
        ("σ overhead = 1 − rps with σ ÷ rps without σ (all rounds)",
         (f"{g.overhead:+.1%} (target < {TARGET_SIGMA_OVERHEAD:.0%}: "
         f"{'met' if g.overhead < TARGET_SIGMA_OVERHEAD else 'NOT met'})")),
        ("per-round overhead (each round's two runs back to back)",
         ", ".join(f"{x:+.1%}" for x in rounds) + (
             f"; mean {statistics.fmean(rounds):+.1%} ± {statistics.stdev(rounds) / len(rounds) ** 0.5:.1%} "
             "(standard error): the noise of this machine" if len(rounds) > 1 else "")),
        ("σ round trip, host → permission service, one hash (p50 / p99 / mean)",
         (f"{sigma_p50:.1f} / {percentile_ms(g.sigma_latencies, 99):.1f} / {mean_ms(g.sigma_latencies):.1f} ms "
         f"over {len(g.sigma_latencies)}")),
        (("σ round trip p50 ÷ serving time per request without σ (1 / its requests/s): what σ would cost "
         "if the gateway waited for it alone"),
         f"{sigma_p50 / 1000 * rps_without:.2%}" if rps_without else "n/a"),
    ]


def verifier_rows(v: VerifierResult) -> list[list[str]]:
    rows = []
    for kind in (SHOWN, HELD, UNPERMITTED):
        seconds = v.in_process.seconds.get(kind, [])
        if seconds:
            verdicts = ", ".join(f"{verdict} {n}" for (k, verdict), n in sorted(v.in_process.verdicts.items())
                                 if k == kind)
            rows.append(["Verifier.check in process", kind, str(len(seconds)),
                         f"{len(seconds) / sum(seconds):,.0f}", f"{mean_ms(seconds):.1f}",
                         f"{percentile_ms(seconds, 99):.1f}", verdicts])
    ip = v.in_process
    total = sum(len(s) for s in ip.seconds.values())
    rows.append(["Verifier.check in process", "all", str(total), f"{ip.rate:,.0f}",
                 f"{1000 / ip.rate:.1f}" if ip.rate else "", "", ""])
    s = v.service
    rows.append(["verifier service (HTTP, queue, DB)", "all", str(s.checks), f"{s.rate:,.1f}",
                 f"{mean_ms(s.latencies):.1f}", f"{percentile_ms(s.latencies, 99):.1f}",
                 ", ".join(f"{k} {n}" for k, n in sorted(s.verdicts.items()) if n)])
    return rows


VERIFIER_COLUMNS = ["measurement", "transcripts", "n", "checks/s", "mean ms", "p99 ms", "verdicts"]


def detection_rows(d: DetectionResult) -> list[list[str]]:
    rows = []
    for stage in STAGES:
        values = d.stage(stage)
        rows.append([stage, f"{statistics.median(values):.2f}", f"{max(values):.2f}",
                     ", ".join(f"{x:.2f}" for x in values)])
    return rows


DETECTION_COLUMNS = ["stage", "p50 s", "max s", "each probe (s)"]


def _markdown_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def render(g: GatewayResult, v: VerifierResult, d: DetectionResult, seconds: float,
           load_averages: dict[str, float] | None = None) -> str:
    lines = []
    if load_averages:
        lines += ["Load average (1 min) of the machine, which other work shares: " + ", ".join(
            f"{k} {value:.1f}" for k, value in load_averages.items()) + ".", ""]
    lines += [(f"### Host gateway throughput, with σ vs without σ ({g.model}, max_tokens {g.load.max_tokens}, "
               f"temperature 0, {g.load.concurrency} concurrent clients, OMP_NUM_THREADS={g.model_threads} "
               "per gateway)"), ""]
    lines += _markdown_table(GATEWAY_COLUMNS, gateway_rows(g)) + [""]
    lines += [f"- {k}: {val}" for k, val in gateway_summary(g)] + [""]
    lines += [(f"### Verifier checks per second ({v.load.total} transcripts; worker poll interval "
              f"{v.load.poll_interval_s:g} s)"), ""]
    lines += _markdown_table(VERIFIER_COLUMNS, verifier_rows(v)) + [""]
    lines += [(f"- service rate ÷ in-process rate: {v.service.rate / v.in_process.rate:.1%}; "
              f"claims opened on chain for the unpermitted transcripts: {v.claims_opened} of {v.load.unpermitted}"), ""]
    lines += [(f"### Detection latency ({len(d.timings)} probes of a host that skips every σ; tiny-model copy; "
              f"verifier poll interval {d.verifier_poll_s:g} s; challenge window {d.challenge_window} s skipped "
              "by moving the chain's clock)"), ""]
    lines += _markdown_table(DETECTION_COLUMNS, detection_rows(d)) + [""]
    lines.append(f"- after acceptance every stage waits for a verifier's next worker pass (every {d.verifier_poll_s:g} s, "
                 "the default): the pass schedule, not the checks, sets these latencies.")
    if d.missed:
        lines.append(f"- {d.missed} probe(s) got an answer without the fingerprint (the tiny copy missed it): "
                     "no claim, not timed.")
    lines.append(f"- whole benchmark: {seconds:.0f} s.")
    return "\n".join(lines)


METHOD = (
    "Method: one command (`make bench-e2e`), three parts, each on its own fresh anvil with the five contracts "
    "(`services.stack.LocalChain`). Gateway: the real `oml host serve` over the reference SmolLM2-135M-Instruct "
    "checkpoint behind a LocalChain license and the real permission service (SQLite), one gateway per mode, "
    "both up but only one driven at a time, in short runs whose order flips every round (ABBA...) so that both "
    "modes see the same background load of this shared machine; each gateway first gets {warm} unmeasured "
    "warm-up requests; each run sends {req} requests from {conc} concurrent httpx clients over {prompts} fixed prompts; "
    "requests/s = answered ÷ wall time of the measured window; latency is per request, client side. The σ round "
    "trip is what the gateway's batcher waits for when requests do not overlap (`POST /v1/permissions/batch` "
    "of one hash; the gateway's /metrics counts σ and batches but has no latency series). Verifier: transcripts "
    "made from fingerprints committed on chain (answers are the responses, so no model runs); checks/s over HTTP "
    "is transcripts ÷ (last verdict − first POST) seen on verifier 0's /metrics; a transcript's latency is "
    "its verdict time minus its 202 (verifiers check in arrival order, the counter is polled every 20 ms). "
    "Detection: `services.scenario.network.bring_up` with one host serving every query without σ; "
    "the prover runs in this process and each stage is timed from the probe's send."
)


def record(report: Path, body: str, load_text: str) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (f"\n## End to end (`make bench-e2e`), {stamp}\n\nMachine: {machine_line(with_torch=True)}.\n\n{body}\n\n"
               f"{load_text}\n\n![gateway, verifier and detection](bench_e2e.png)\n")
    text = report.read_text() if report.exists() else "# Benchmarks\n\nEach section is one run of one command.\n"
    if not text.endswith("\n"):
        text += "\n"
    report.write_text(text + section)


def plot(path: Path, g: GatewayResult, v: VerifierResult, d: DetectionResult) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.8), dpi=110,
                                        gridspec_kw={"width_ratios": [1.3, 0.8, 1.3]})
    colors = {WITH_SIGMA: "#1f77b4", WITHOUT_SIGMA: "#aec7e8"}
    for offset, mode in ((-0.2, WITH_SIGMA), (0.2, WITHOUT_SIGMA)):
        phases = g.of(mode)
        bars = ax1.bar([p.round + offset for p in phases], [p.rps for p in phases], width=0.4, color=colors[mode],
                       label=f"{mode}: all rounds {sum(p.requests for p in phases) / sum(p.seconds for p in phases):.2f}")
        for bar, p in zip(bars, phases):
            ax1.annotate(f"{p.rps:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                         va="bottom", fontsize=7)
    rounds = sorted({p.round for p in g.phases})
    ax1.set_xticks(rounds, [f"round {r}" for r in rounds], fontsize=8)
    ax1.legend(fontsize=8, loc="lower right")
    ax1.set_ylabel("requests per second")
    ax1.set_title(f"Gateway ({g.model}, {g.load.max_tokens} tokens, c={g.load.concurrency}): "
                  f"σ overhead {g.overhead:+.1%}", fontsize=9)
    ax1.margins(y=0.2)

    names = ["in process\nVerifier.check", "service\nHTTP+queue+DB"]
    values = [v.in_process.rate, v.service.rate]
    bars = ax2.bar(names, values, color=["#999999", "#2ca02c"])
    for bar, value in zip(bars, values):
        ax2.annotate(f"{value:,.0f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                     va="bottom", fontsize=8)
    ax2.set_ylabel("checks per second")
    ax2.set_title(f"Verifier ({v.load.total} transcripts)", fontsize=9)
    ax2.margins(y=0.15)

    p50 = [statistics.median(d.stage(s)) for s in STAGES]
    worst = [max(d.stage(s)) for s in STAGES]
    y = range(len(STAGES))
    ax3.barh(y, p50, color="#d62728", alpha=0.8, label="p50")
    ax3.scatter(worst, y, color="black", marker="|", s=200, label="max")
    ax3.set_yticks(y, [s.replace(", ", ",\n") for s in STAGES], fontsize=8)
    ax3.invert_yaxis()
    ax3.set_xlabel("seconds")
    ax3.set_title(f"Detection latency ({len(d.timings)} probes; verifier poll {d.verifier_poll_s:g} s)", fontsize=9)
    ax3.legend(fontsize=8)
    fig.suptitle(f"OML end to end ({dt.datetime.now(dt.UTC):%Y-%m-%d}, nproc {os.cpu_count()})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
