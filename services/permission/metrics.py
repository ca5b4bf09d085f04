"""A few Prometheus metrics, rendered in the text exposition format by hand (prometheus_client
is not a dependency). Process-local: each replica exports its own counters."""
from __future__ import annotations

import threading
from collections import defaultdict

_REGISTRY: list = []


class Counter:
    def __init__(self, name: str, help_text: str, label: str | None = None):
        self.name, self.help, self.label = name, help_text, label
        self._values: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()
        _REGISTRY.append(self)

    def inc(self, amount_or_label: float | str = 1, amount: float = 1) -> None:
        # inc(n) for an unlabelled counter, inc("label value"[, n]) for a labelled one
        key, value = (amount_or_label, amount) if isinstance(amount_or_label, str) else ("", amount_or_label)
        with self._lock:
            self._values[key] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            items = sorted(self._values.items()) or ([] if self.label else [("", 0.0)])
        for key, value in items:
            labels = f'{{{self.label}="{key}"}}' if self.label else ""
            lines.append(f"{self.name}{labels} {value}")
        return lines


class Summary:
    """Count and sum only (enough for a mean latency)."""

    def __init__(self, name: str, help_text: str):
        self.name, self.help = name, help_text
        self._count, self._sum = 0, 0.0
        self._lock = threading.Lock()
        _REGISTRY.append(self)

    def observe(self, value: float) -> None:
        with self._lock:
            self._count += 1
            self._sum += value

    def render(self) -> list[str]:
        with self._lock:
            return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} summary",
                    f"{self.name}_count {self._count}", f"{self.name}_sum {self._sum}"]


PERMISSIONS_ISSUED = Counter("oml_permissions_issued_total", "σ signed and committed.")
REFUSALS = Counter("oml_permission_refusals_total", "σ requests refused, by reason.", label="reason")
GROUP_COMMITS = Counter("oml_permission_group_commits_total", "Writer transactions committed.")
COMMIT_SECONDS = Summary("oml_permission_commit_seconds", "Time to sign and commit one group.")
VOUCHERS_SIGNED = Counter("oml_vouchers_signed_total", "UsageVouchers signed.")
CHAIN_EVENTS = Counter("oml_chain_events_applied_total", "Chain events applied, by name.", label="event")
MIRROR_POLLS = Counter("oml_chain_mirror_polls_total", "Chain mirror polls.")
EXIT_SETTLEMENTS = Counter("oml_exit_settlements_total",
                           "Exiting licenses' last vouchers and usage closures: settled (and closed), closed, nothing left, or failed attempts.",
                           label="outcome")
MIRROR_ROLLBACKS = Counter("oml_chain_mirror_rollbacks_total",
                           "Reorgs deeper than the confirmation depth that the mirror rolled back.")


def render() -> str:
    return "\n".join(line for metric in _REGISTRY for line in metric.render()) + "\n"
