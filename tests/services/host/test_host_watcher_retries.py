"""The claim watcher does not give up while a refute can still save the stake: a refute that keeps
failing is retried with back-off (each failure logged and counted) until it goes through, a
restarted watcher resumes the back-off from the ledger, and only a closed challenge window ends
the attempts. (Last in the directory: the final test moves the session chain's clock.)"""
from __future__ import annotations

import logging
import time

import httpx
import pytest
from host_helpers import gateway, signed_in, wait_until
from test_host_watcher import open_false_claim

from oml_core.chain.anvil import advance_time
from oml_core.chain.errors import TransactionFailed
from services.host.ledger import DONE, FAILED, PENDING, Ledger
from services.host.metrics import GatewayMetrics
from services.host.permits import PermissionSource
from services.host.watcher import ClaimWatcher
from services.stack import LOCAL_TERMS

FAILED_ATTEMPTS = "oml_host_claim_attempts_failed_total"


class FlakyChain:
    """The deployed contracts, except that the first `failures` refutes revert."""

    def __init__(self, oml, failures: int):
        self._oml, self.failures, self.refutes = oml, failures, 0

    def __getattr__(self, name):
        return getattr(self._oml, name)

    def refute(self, *args):
        self.refutes += 1
        if self.refutes <= self.failures:
            raise TransactionFailed(f"refute reverted (attempt {self.refutes})")
        return self._oml.refute(*args)


@pytest.fixture
def claim(chain, permission, licensed, host_key):
    """A false claim against a query the host holds σ for (at the permission service)."""
    license_id, fps = licensed
    sigma = signed_in(permission.url, host_key, "host", license_id).permission(license_id, fps[0].query_hash)
    return open_false_claim(chain, license_id, fps, fps[0], host_key, sigma)


def watcher_on(ledger, licensed, host_key, permission, oml, metrics=None, interval_s=0.05):
    source = PermissionSource(permission.url, bytes.fromhex(host_key[2:]), licensed[0])
    return ClaimWatcher(oml, ledger, licensed[0], host_key, lookup=source.lookup, interval_s=interval_s,
                        metrics=metrics)


def reached(ledger: Ledger, claim, state: str):
    """The claim's ledger entry once it is in `state`, else None."""
    entry = ledger.claim(claim.claim_id)
    return entry if entry.state == state else None


def gauge(metrics: GatewayMetrics, name: str) -> str:
    return next(line for line in metrics.render({}).splitlines() if line.startswith(name + " "))


def test_a_refute_that_keeps_reverting_is_retried_past_three_attempts_and_goes_through(
        chain, permission, tmp_path, licensed, host_key, claim, caplog):
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    flaky, metrics = FlakyChain(chain.oml, failures=5), GatewayMetrics()
    watcher = watcher_on(ledger, licensed, host_key, permission, flaky, metrics)

    with caplog.at_level(logging.ERROR, logger="services.host.watcher"):
        watcher.poll_once()
        failed = ledger.claim(claim.claim_id)
        assert failed.state == PENDING and failed.attempts == 1 and failed.next_attempt_at > time.time()
        assert gauge(metrics, "oml_host_claims_at_risk") == "oml_host_claims_at_risk 1"
        watcher.poll_once()  # backing off: not tried again yet
        assert flaky.refutes == 1

        done = wait_until(lambda: watcher.poll_once() or reached(ledger, claim, DONE), interval=0.05,
                          what="the refute to go through")
    assert flaky.refutes == 6 and done.attempts == 5
    assert chain.oml.claim_status(claim.claim_id) == "AttestersPenalized"
    assert metrics.value(FAILED_ATTEMPTS) == 5
    assert gauge(metrics, "oml_host_claims_at_risk") == "oml_host_claims_at_risk 0"
    alerts = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(alerts) == 5
    assert all(f"claim {claim.claim_id} " in a and f"deadline {claim.deadline}" in a and " s left" in a
               for a in alerts)


def test_a_permission_service_outage_is_retried_like_a_revert(chain, permission, tmp_path, licensed, host_key,
                                                              claim):
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    watcher = watcher_on(ledger, licensed, host_key, permission, chain.oml)
    lookup, calls = watcher.lookup, []

    def down_four_times(query_hash: bytes):
        calls.append(query_hash)
        if len(calls) <= 4:
            raise httpx.ConnectError("permission service unreachable")
        return lookup(query_hash)

    watcher.lookup = down_four_times
    done = wait_until(lambda: watcher.poll_once() or reached(ledger, claim, DONE), interval=0.05,
                      what="the refute once the service is back")
    assert len(calls) == 5 and done.attempts == 4 and "ConnectError" in done.last_error
    assert chain.oml.claim_status(claim.claim_id) == "AttestersPenalized"


def test_a_restarted_watcher_resumes_the_back_off_from_the_ledger(chain, permission, tmp_path, licensed,
                                                                  host_key, claim):
    url = f"sqlite:///{tmp_path}/ledger.db"
    first = Ledger(url)
    watcher = watcher_on(first, licensed, host_key, permission, FlakyChain(chain.oml, failures=1),
                         interval_s=3.0)  # the first retry is 3 s away
    watcher.poll_once()
    failed = first.claim(claim.claim_id)
    assert failed.attempts == 1 and failed.next_attempt_at > time.time()
    first.dispose()

    ledger = Ledger(url)  # the host restarts; the node works again
    metrics, healthy = GatewayMetrics(), FlakyChain(chain.oml, failures=0)
    restarted = watcher_on(ledger, licensed, host_key, permission, healthy, metrics, interval_s=3.0)
    assert gauge(metrics, "oml_host_claims_at_risk") == "oml_host_claims_at_risk 1"
    restarted.poll_once()  # still inside the back-off the first watcher set
    assert healthy.refutes == 0 and ledger.claim(claim.claim_id) == failed

    time.sleep(max(0.0, failed.next_attempt_at - time.time()))
    restarted.poll_once()
    assert ledger.claim(claim.claim_id).state == DONE and healthy.refutes == 1
    assert chain.oml.claim_status(claim.claim_id) == "AttestersPenalized"


def test_the_gateway_metrics_show_the_watchers_numbers(chain, permission, model_dir, generator, tmp_path,
                                                       licensed, host_key):
    license_id, _ = licensed
    with gateway(chain, model_dir, generator, tmp_path, license_id, host_key, permission.url,
                 watch=True) as (url, gw):
        assert gw.watcher.metrics is gw.metrics
        text = httpx.get(url + "/metrics").text
    assert "# TYPE oml_host_claims_at_risk gauge\noml_host_claims_at_risk 0" in text
    assert f"{FAILED_ATTEMPTS} 0" in text


def test_the_watcher_gives_up_only_once_the_challenge_window_is_over(chain, permission, tmp_path, licensed,
                                                                    host_key, claim, caplog):
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    flaky = FlakyChain(chain.oml, failures=10**6)
    watcher = watcher_on(ledger, licensed, host_key, permission, flaky, interval_s=0.01)
    wait_until(lambda: watcher.poll_once() or ledger.claim(claim.claim_id).attempts >= 6, interval=0.01,
               what="six failed refutes")
    assert ledger.claim(claim.claim_id).state == PENDING

    advance_time(chain.w3, LOCAL_TERMS.challenge_window + 1)
    with caplog.at_level(logging.ERROR, logger="services.host.watcher"):
        gone = wait_until(lambda: watcher.poll_once() or reached(ledger, claim, FAILED), interval=0.05,
                          what="the watcher to give up")
    assert "challenge window closed" in gone.last_error and "refute reverted" in gone.last_error
    assert any("will be slashed" in r.getMessage() for r in caplog.records)
    assert chain.oml.claim_status(claim.claim_id) == "Open"
