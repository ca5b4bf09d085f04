"""Run an OML service (any `oml ...` command) as a child process in its own process group and
wait until its health URL answers: used by `oml up`, the end-to-end tests and the benchmarks."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import httpx


class ServiceProcess:
    def __init__(self, name: str, args: list[str], health_url: str | None, log_path: Path,
                 env: dict[str, str] | None = None, cwd: Path | None = None, url: str | None = None):
        self.name, self.args, self.health_url, self.url = name, args, health_url, url
        self.log_path, self.env, self.cwd = Path(log_path), {**os.environ, **(env or {})}, cwd
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0, wait: bool = True) -> Self:
        """Starts `python -m oml_core.cli.main <args>`; waits for the health URL (if any and `wait`)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen([sys.executable, "-m", "oml_core.cli.main", *self.args],
                                            env=self.env, cwd=self.cwd, stdout=log, stderr=log,
                                            start_new_session=True)
        if self.health_url and wait:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}): {self.log_tail()}")
            try:
                if httpx.get(self.health_url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not come up in {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM (graceful drain); SIGKILL if it has not ended in 15 s."""
        try:
            self._signal(signal.SIGTERM, timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, signum: signal.Signals, timeout: float = 10) -> None:
        if not self.running:
            return
        os.killpg(self.process.pid, signum)  # the group we started, nothing else
        self.process.wait(timeout=timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
