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


def machine_line(with_torch: bool = False) -> str:
    """CPU model, cores this process may use, OS and Python (and torch): enough to compare runs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    line = f"{cpu_model()}, nproc {cores}, {platform.platform()}, Python {platform.python_version()}"
    if with_torch:
        import torch

        line += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
        if torch.cuda.is_available():
            line += f", GPU {torch.cuda.get_device_name()}"
    return line


def append_section(markdown: str) -> Path:
    """Appends one run's section (it brings its own heading) to docs/BENCHMARKS.md."""
    text = REPORT.read_text() if REPORT.exists() else HEADER
    REPORT.write_text(text.rstrip("\n") + "\n\n" + markdown.rstrip("\n") + "\n")
    return REPORT
