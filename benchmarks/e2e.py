"""`make bench-e2e`: the protocol end to end, in one command.

1. Host gateway throughput with σ(q) vs without σ, same run (benchmarks/e2e_gateway.py): the
   real SmolLM2 behind `oml host serve`, the real permission service; target: σ costs < 5%.
2. Verifier checks per second over HTTP, against `Verifier.check` in process as the baseline
   (benchmarks/e2e_verifier.py).
3. Detection latency: unpermitted fingerprint answer -> ClaimOpened -> (window skipped on the
   chain's clock) -> Executed (benchmarks/e2e_detection.py).

Results go to docs/BENCHMARKS.md (a new section with date and machine) and docs/bench_e2e.png.
The parts run one after the other (two cores: never two loads at once).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import e2e_report as report
from benchmarks.e2e_detection import DetectionLoad, bench_detection
from benchmarks.e2e_gateway import GatewayLoad, bench_gateway
from benchmarks.e2e_verifier import VerifierLoad, bench_verifier

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "BENCHMARKS.md"
PLOT = ROOT / "docs" / "bench_e2e.png"

GATEWAY_LOAD = GatewayLoad(max_tokens=16, concurrency=4, requests=8, warmup_requests=8)
GATEWAY_ROUNDS = 8  # runs per mode, alternating (the noise here is several % per round)
VERIFIER_LOAD = VerifierLoad(shown=150, held=40, unpermitted=4)
DETECTION_LOAD = DetectionLoad(probes=5, spare_keys=1)  # 6 keys: the demo's tiny copy size


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < 2 or column in ("verdicts", "each probe (s)") else "right")
    for row in rows:
        table.add_row(*row)
    return table


def main() -> None:
    from oml_core.model.loading import prepare_reference_model

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a pipe or a file: rich would wrap the tables at 80 columns
    started = time.monotonic()
    load_averages = {"at the start": os.getloadavg()[0]}
    model_dir = prepare_reference_model()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        workdir = Path(tmp)
        console.rule("1. host gateway with σ vs without σ")
        gateway = bench_gateway(workdir / "gateway", model_dir, "SmolLM2-135M-Instruct", GATEWAY_LOAD,
                                GATEWAY_ROUNDS, console.log)
        load_averages["after the gateway part"] = os.getloadavg()[0]
        console.rule("2. verifier checks per second")
        verifier = bench_verifier(workdir / "verifier", VERIFIER_LOAD, console.log)
        console.rule("3. detection latency")
        detection = bench_detection(workdir / "detection", DETECTION_LOAD, console, console.log)
    seconds = time.monotonic() - started
    load_averages["at the end"] = os.getloadavg()[0]

    console.print(_table("Host gateway", report.GATEWAY_COLUMNS, report.gateway_rows(gateway)))
    for key, value in report.gateway_summary(gateway):
        console.print(f"- {key}: {value}", markup=False, soft_wrap=True)
    console.print(_table("Verifier checks", report.VERIFIER_COLUMNS, report.verifier_rows(verifier)))
    console.print(_table("Detection latency", report.DETECTION_COLUMNS, report.detection_rows(detection)))

    g = GATEWAY_LOAD
    method = report.METHOD.format(warm=g.warmup_requests, req=g.requests, conc=g.concurrency, prompts=len(g.prompts))
    report.record(REPORT, report.render(gateway, verifier, detection, seconds, load_averages), method)
    report.plot(PLOT, gateway, verifier, detection)
    console.print(f"recorded in {REPORT} and {PLOT} ({seconds:.0f} s)", markup=False)


if __name__ == "__main__":
    main()
