"""`make bench-fingerprints` (and its GPU sweep) measure what they say: their pipeline on the tiny model."""
import json
import math
import time
from dataclasses import replace

import pytest
import torch

from benchmarks import fingerprint_scale as scale
from benchmarks import fingerprints as bench
from oml_core.fingerprint.attacks import FinetuneAttack
from oml_core.fingerprint.evaluate import perplexity
from oml_core.model.loading import tiny_model

TINY_ATTACK = FinetuneAttack(steps=1, batch_size=2)


def test_grid_follows_the_issue():
    runs = bench.grid(quick=False)
    assert {(r.strategy, r.mixed) for r in runs if r.n == 64} == {(s, m) for s in bench.STRATEGIES for m in (False, True)}
    assert {(r.strategy, r.n) for r in runs if r.n != 64} == {(s, n) for s in bench.STRATEGIES for n in (16, 256)}
    for run in runs:  # each run within the step budget, but never under 3 epochs or MIN_STEPS steps
        recipe = run.recipe()
        per_epoch = math.ceil(run.n / recipe.n_fingerprints)
        steps = recipe.epochs * per_epoch
        assert recipe.epochs >= 3 and bench.MIN_STEPS <= steps <= max(bench.STEP_BUDGET, 3 * per_epoch, bench.MIN_STEPS)
        assert recipe.epochs <= bench.MAX_EPOCHS or steps < bench.MIN_STEPS + per_epoch
        # the rate decays over the large sets only
        assert recipe.lr_schedule == ("cosine" if run.n >= bench.DECAY_FROM_N else "constant")


def test_one_run_is_measured_and_reported():
    base, tokenizer = tiny_model(seed=0)
    run = bench.Run("english_random", 4, mixed=False)
    result = bench.measure(run, base, tokenizer, perplexity(base, tokenizer), TINY_ATTACK, seed=3, points=2)
    # The frontier: one point halfway, one at the end, which is the result itself.
    assert result.steps == result.total_steps == run.recipe().epochs
    assert [steps for _, _, steps in result.frontier] == [math.ceil(result.steps / 2), result.steps]
    assert result.frontier[-1][:2] == (result.perplexity_change, result.accuracy)
    assert 0 <= result.accuracy <= 1 and 0 <= result.persistence <= 1 and result.false_positives == 0.0
    assert math.isfinite(result.perplexity_change) and result.perplexity_change != 0.0  # the copy was trained
    text = bench.markdown([result], "Fingerprint capacity", "preamble")
    assert run.label in text and "Frontier" in text and text.count("\n|") >= 3 and "deadline" not in text


def test_rows_of_the_same_set_share_its_generation_and_false_positives(monkeypatch):
    base, tokenizer = tiny_model(seed=0)
    calls = []
    generate = bench.generate_fingerprints
    monkeypatch.setattr(bench, "generate_fingerprints", lambda *a, **k: calls.append(a) or generate(*a, **k))
    sets, ppl = {}, perplexity(base, tokenizer)
    plain, mixed = (bench.measure(bench.Run("english_random", 4, mixed=m, override=replace(bench.BASE_RECIPE, epochs=1)),
                                  base, tokenizer, ppl, TINY_ATTACK, seed=3, sets=sets) for m in (False, True))
    other = bench.measure(bench.Run("english_random", 4, mixed=False, override=replace(bench.BASE_RECIPE, epochs=1)),
                          base, tokenizer, ppl, TINY_ATTACK, seed=4, sets=sets)
    assert len(calls) == 2 and set(sets) == {("english_random", 4, 3), ("english_random", 4, 4)}
    assert plain.false_positives == mixed.false_positives == sets[("english_random", 4, 3)][1]
    for result in (plain, mixed, other):  # the row's time holds its training and its evaluation
        assert 0 < result.training_seconds < result.seconds


def test_a_run_stops_at_the_deadline_and_says_so():
    base, tokenizer = tiny_model(seed=0)
    run = bench.Run("english_random", 4, mixed=False, variant="long", override=replace(bench.BASE_RECIPE, epochs=50))
    result = bench.measure(run, base, tokenizer, perplexity(base, tokenizer), TINY_ATTACK, seed=3,
                           deadline=time.monotonic())
    assert result.steps == 1 and result.total_steps == 50  # stopped after the first step, then evaluated
    assert "1 of 50 (deadline)" in bench.markdown([result], "h", "p") and "long" in run.label


def test_scale_sweep_runs_the_recipe_at_every_size_first_and_writes_its_files(tmp_path):
    plan = scale.runs((1024, 4096))
    assert [(r.strategy, r.n) for r in plan[:4]] == [("perinucleus", 1024), ("english_random", 1024),
                                                    ("perinucleus", 4096), ("english_random", 4096)]
    assert all(r.recipe().batch_size == scale.BATCH for r in plan)
    published = next(r for r in plan if r.variant.startswith("published"))
    assert published.recipe().benign_loss == "ce" and not published.recipe().averaging
    big = plan[2].recipe()
    assert big.epochs * math.ceil(4096 / big.n_fingerprints) <= 1000 + math.ceil(4096 / big.n_fingerprints)

    base, tokenizer = tiny_model(seed=0)
    result = bench.measure(bench.Run("english_random", 4, mixed=False), base, tokenizer,
                           perplexity(base, tokenizer), TINY_ATTACK, seed=3)
    bench.write(tmp_path, [result], "Fingerprint capacity at scale",
                scale.preamble(TINY_ATTACK, 10.0, (1024,), 60, plan[1:]))
    rows = json.loads((tmp_path / "results.json").read_text())
    assert rows[0]["run"]["n"] == 4 and rows[0]["accuracy"] == result.accuracy
    assert "Not run before the deadline" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_only_selects_grid_rows_and_names_them_in_the_command(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--only", "N=999", "--no-record"])  # refused before any model is loaded
    assert "no grid row matches" in capsys.readouterr().err
    text = bench.grid_preamble(TINY_ATTACK, 10.0, quick=False, only=["perinucleus N=256"])
    assert "make bench-fingerprints ARGS=\"--only 'perinucleus N=256'\"" in text


def test_recipe_changes_are_validated_and_named_in_the_command(capsys):
    for bad in ('{"nope": 1}', '{"lr": -1}', "[1]", "{"):
        with pytest.raises(SystemExit):  # refused before any model is loaded
            bench.main(["--only", "perinucleus N=256", "--recipe", bad, "--no-record"])
        assert "--recipe" in capsys.readouterr().err
    row = bench.Run("perinucleus", 256, True)
    run = bench.with_changes(row, {"epochs": 6, "trainable": ["model.layers.2[0-9]"]})
    assert run.recipe() == replace(row.recipe(), epochs=6, trainable=("model.layers.2[0-9]",))
    assert "recipe changed" in run.label and bench.with_changes(row, {}) == row
    text = bench.grid_preamble(TINY_ATTACK, 10.0, quick=False, only=["perinucleus N=256"], changes={"epochs": 6},
                               points=6)
    assert "--recipe '{\"epochs\": 6}' --points 6" in text and 'changes its recipe by {"epochs": 6}' in text
    from oml_core.fingerprint.inject.precision import native_bf16

    # "auto" is machine-dependent, so the record says what it resolved to.
    assert f"bf16 forward passes {'on' if native_bf16(torch.device('cpu')) else 'off'} here" in text
