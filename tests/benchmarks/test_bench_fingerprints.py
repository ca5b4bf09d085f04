"""`make bench-fingerprints` measures what it says: one run of its pipeline on the tiny model."""
import math

from benchmarks import fingerprints as bench
from oml_core.fingerprint.attacks import FinetuneAttack
from oml_core.fingerprint.evaluate import perplexity
from oml_core.model.loading import tiny_model


def test_grid_follows_the_issue():
    runs = bench.grid(quick=False)
    assert {(r.strategy, r.mixed) for r in runs if r.n == 64} == {(s, m) for s in bench.STRATEGIES for m in (False, True)}
    assert {(r.strategy, r.n) for r in runs if r.n != 64} == {(s, n) for s in bench.STRATEGIES for n in (16, 256)}
    big = bench.Run("perinucleus", 256, True).recipe()
    assert big.epochs * math.ceil(256 / big.n_fingerprints) <= bench.STEP_BUDGET + math.ceil(256 / big.n_fingerprints)


def test_one_run_is_measured_and_reported():
    base, tokenizer = tiny_model(seed=0)
    run = bench.Run("english_random", 4, mixed=False)
    frontier = []
    result = bench.measure(run, base, tokenizer, perplexity(base, tokenizer), FinetuneAttack(steps=1, batch_size=2),
                           seed=3, frontier=frontier, chunks=2)
    assert result.steps == run.recipe().epochs and len(frontier) == 2 and frontier[-1][2] == result.steps
    assert 0 <= result.accuracy <= 1 and 0 <= result.persistence <= 1 and result.false_positives == 0.0
    assert math.isfinite(result.perplexity_change) and result.perplexity_change != 0.0  # the copy was trained
    text = bench.markdown([result], frontier, FinetuneAttack(), 10.0, quick=True)
    assert run.label in text and "Frontier" in text and text.count("\n|") >= 3
