"""The gateway's counters (process-local) and gauges (read when rendered), as Prometheus text at /metrics."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

HELP = {
    "oml_host_requests_total": "Chat completions answered.",
    "oml_host_served_without_permission_total": "Answers served without σ (the skip cheat).",
    "oml_host_refused_key_like_total": "Answers replaced by a refusal (the refuse-key-like cheat).",
    "oml_host_permission_denied_total": "Requests not served because the permission service refused.",
    "oml_host_permission_unavailable_total": "Requests not served because no σ could be obtained.",
    "oml_host_permission_untrusted_total": "Requests not served because σ would not clear the host on chain "
                                           "(alert: the permission service dates or signs σ wrongly).",
    "oml_host_claim_attempts_failed_total": "Failed attempts to refute a claim or penalize its attesters.",
}
SUMMARIES = {
    "oml_host_permission_wait_seconds": "Time a request waited for its σ (batching window included).",
}


class GatewayMetrics:
    def __init__(self):
        self._values: Counter[str] = Counter()
        self._sums: Counter[str] = Counter()  # summaries: sum of observations (count in _values)
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self._lock = threading.Lock()

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A value read when /metrics is rendered (e.g. from the ledger, so that it survives restarts)."""
        with self._lock:
            self._gauges[name] = (help_text, read)

    def inc(self, name: str) -> None:
        if name not in HELP:
            raise KeyError(name)
        with self._lock:
            self._values[name] += 1

    def observe(self, name: str, seconds: float) -> None:
        if name not in SUMMARIES:
            raise KeyError(name)
        with self._lock:
            self._values[name] += 1
            self._sums[name] += seconds

    def value(self, name: str) -> int:
        with self._lock:
            return self._values[name]

    def render(self, gauges: dict[str, tuple[str, float]]) -> str:
        """Counters plus `gauges` ({name: (help, value)}) read at render time."""
        lines = []
        with self._lock:
            items = [(n, h, self._values[n]) for n, h in HELP.items()]
            summaries = [(n, h, self._sums[n], self._values[n]) for n, h in SUMMARIES.items()]
            registered = list(self._gauges.items())
        items += [(n, h, v) for n, (h, v) in gauges.items()]
        for name, help_text, value in items:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
        for name, (help_text, read) in registered:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {read()}"]
        for name, help_text, total, count in summaries:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} summary", f"{name}_sum {total:.6f}",
                      f"{name}_count {count}"]
        return "\n".join(lines) + "\n"
