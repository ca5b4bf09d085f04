"""`oml up` on the tiny model: the network comes up, a user gets answers with σ, and the prover
daemon probes the hosts on its own, its transcripts reaching the verifiers."""
import threading
import time

import httpx
from openai import OpenAI
from rich.console import Console

from services.common.answer import extension_of
from services.scenario.up import run_up


def _verifier_checks(url: str) -> int:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith("oml_verifier_transcripts_checked_total{"))


def test_up_serves_users_and_probes_in_the_background(tmp_path):
    stop, seen, failure = threading.Event(), {}, []

    def ready(chain, net):
        seen["net"] = net

    def run():
        try:
            run_up("tiny", tmp_path, 2, 3, 7, Console(quiet=True), stop=stop, probe_interval_s=0.3, ready=ready)
        except Exception as exc:  # noqa: BLE001  (any failure in the thread is re-raised by the test)
            failure.append(exc)
            stop.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 240
        while "net" not in seen and not failure and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not failure and "net" in seen, failure or "oml up did not come up in 240 s"
        net = seen["net"]
        host = next(iter(net.hosts.values()))
        reply = OpenAI(base_url=f"{host.url}/v1", api_key="user", max_retries=0).chat.completions.create(
            model="oml", messages=[{"role": "user", "content": "hello"}], max_tokens=4, temperature=0)
        assert extension_of(reply)["permission"]["sequence"] >= 1
        deadline = time.monotonic() + 120
        while sum(_verifier_checks(v.url) for v in net.verifiers) == 0 and time.monotonic() < deadline:
            time.sleep(1)
        assert sum(_verifier_checks(v.url) for v in net.verifiers) > 0, "no probe transcript reached a verifier"
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not thread.is_alive() and not failure
    assert all(not h.running for h in seen["net"].hosts.values())
