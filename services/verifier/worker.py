"""A background thread that runs one pass of the verifier's work every poll interval."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, step: Callable[[], None], interval_s: float, name: str = "oml-verifier-worker"):
        self.step, self.interval_s, self.name = step, interval_s, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # a pass that failed as a whole (e.g. the database): try again next time
                log.exception("verifier pass failed")
            self._stop.wait(self.interval_s)
