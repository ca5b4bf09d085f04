"""Prometheus text exposition of the verifier's counters, read from its database (so they are
durable across restarts; the rate of `oml_verifier_transcripts_checked_total` is checks/s)."""
from __future__ import annotations

from services.verifier.verdicts import Verdict

_SERIES = (
    ("oml_verifier_transcripts_checked_total", "Transcripts checked, by verdict.", "verdicts", "verdict"),
    ("oml_verifier_peer_checks_total", "Checks run for peers' attestation requests, by verdict.",
     "peer_checks", "verdict"),
    ("oml_verifier_claims", "Claims this verifier leads, by status.", "claims", "status"),
    ("oml_verifier_claims_opened_total", "Claims this verifier opened on chain.", "opened", None),
)


def render(counts: dict[str, dict[str, int]]) -> str:
    lines: list[str] = []
    for name, help_text, group, label in _SERIES:
        kind = "counter" if name.endswith("_total") else "gauge"
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        values = counts.get(group, {})
        if label == "verdict":  # every verdict, zero included, so rates exist from the start
            values = {v.value: values.get(v.value, 0) for v in Verdict}
        for key, value in sorted(values.items()):
            labels = f'{{{label}="{key}"}}' if label else ""
            lines.append(f"{name}{labels} {value}")
    return "\n".join(lines) + "\n"
