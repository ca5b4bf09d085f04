"""What every benchmark shares: the machine line and appending a section to docs/BENCHMARKS.md."""
from __future__ import annotations

import os
import platform
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nEach section is one run of one command.\n"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    """CPU model, cores this process may use, OS and Python: enough to compare runs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu_model()}, {cores} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def append_section(markdown: str) -> Path:
    """Appends one run's section (it brings its own heading) to docs/BENCHMARKS.md."""
    text = REPORT.read_text() if REPORT.exists() else HEADER
    REPORT.write_text(text.rstrip("\n") + "\n\n" + markdown.rstrip("\n") + "\n")
    return REPORT
