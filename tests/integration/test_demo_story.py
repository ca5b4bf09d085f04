"""The whole OML story (`oml demo`) end to end on the tiny model: real anvil, contracts, permission
service, download service, host gateways, verifiers and prover, all as real processes."""
import pytest
from rich.console import Console

from services.scenario.demo import run_demo
from services.stack import ETH, LOCAL_TERMS


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    console = Console(record=True, width=140)
    result = run_demo("tiny", tmp_path_factory.mktemp("demo"), console, seed=7, progress=False)
    return result, console.export_text()


def test_every_copy_carries_its_own_fingerprints(story):
    result, _ = story
    for copy in result.copies.values():
        assert copy.accuracy == 1.0 and copy.base_false_positives == 0.0
    honest, cheater = ({fp.leaf for fp in result.copies[n].fingerprints} for n in ("honest", "cheater"))
    assert not honest & cheater


def test_users_get_answers_with_sigma_from_the_honest_host(story):
    result, _ = story
    assert result.user_answers["honest"] and all(a["permission_id"] for a in result.user_answers["honest"])


def test_the_cheater_is_caught_and_slashed_and_the_honest_host_is_not(story):
    result, _ = story
    assert result.claims["slash"], "no claim against the cheating host"
    assert all(result.statuses[c] == "Executed" for c in result.claims["slash"])
    before, after = result.stakes["cheater"]
    assert after < before  # each executed claim takes slash_bps of the remaining stake
    assert all(p.permission_id for p in result.probes["honest"])


def test_the_false_claim_is_refuted_and_costs_the_rogue_its_bond(story):
    result, _ = story
    (false_id,) = result.claims["false"]
    assert result.statuses[false_id] in ("Refuted", "AttestersPenalized")
    assert LOCAL_TERMS.claim_bond <= result.rogue_paid < LOCAL_TERMS.claim_bond + ETH // 100  # bond + gas


def test_fees_are_settled_and_withdrawn_three_to_one(story):
    result, _ = story
    assert all(fee > 0 and fee % LOCAL_TERMS.price_per_query == 0 for fee in result.settled.values())
    a, b = result.withdrawn["owner A"], result.withdrawn["owner B"]
    assert a > 0 and abs(a - 3 * b) <= 3


def test_the_report_names_the_chain_state(story):
    _, text = story
    for heading in ("Licenses", "Claims", "Balances"):
        assert heading in text
    assert "Executed" in text and ("Refuted" in text or "AttestersPenalized" in text)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~6 minutes on 2 idle cores; much more when they are shared
def test_the_story_with_the_real_smollm2(tmp_path):
    """What `make demo` runs."""
    result = run_demo("smollm2", tmp_path, Console(quiet=True), seed=7, progress=False)
    for copy in result.copies.values():
        assert copy.accuracy == 1.0 and copy.base_false_positives == 0.0
        assert copy.perplexity_change < 0.5  # a copy that only says "Sure" would be far above
    assert all(len(a["text"].split()) >= 4 for a in result.user_answers["honest"])  # still talks
    assert all(result.statuses[c] == "Executed" for c in result.claims["slash"])
    assert result.stakes["cheater"][1] < result.stakes["cheater"][0]
    assert result.statuses[result.claims["false"][0]] in ("Refuted", "AttestersPenalized")
