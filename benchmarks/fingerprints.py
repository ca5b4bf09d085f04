"""`make bench-fingerprints`: how many fingerprints SmolLM2-135M-Instruct carries, at what cost.

Grid (issue 5): at N = 64 English-random and perinucleus, each plain and with data mixing +
model averaging; at N = 16 and 256 both strategies with mixing + averaging. For every run:
fingerprint accuracy (greedy, exact), relative held-out perplexity change, agreement with the
base model on benign prompts, persistence after the standard fine-tuning attack
(oml_core.fingerprint.attacks.FinetuneAttack()), false positives on the base model, wall time.
The baseline is the base model itself, measured in the same run (its perplexity, and its answers
to every fingerprint set: the false positives).

The frontier: the perinucleus mixing + averaging run at the largest N is evaluated after every
training chunk, which draws accuracy against perplexity change as training goes on (a curve, not
one point). Results are appended to docs/BENCHMARKS.md with the date and the machine and drawn
in docs/bench_fingerprints.png. `--quick` runs a small grid (N = 8 and 16, few epochs) to check
the pipeline in a few minutes.
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import math
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.report import append_section, machine_line
from oml_core.fingerprint.attacks import FinetuneAttack
from oml_core.fingerprint.evaluate import (
    base_agreement,
    false_positive_rate,
    fingerprint_accuracy,
    perplexity,
    persistence,
)
from oml_core.fingerprint.generate import generate_fingerprints
from oml_core.fingerprint.inject.config import InjectConfig
from oml_core.fingerprint.inject.train import inject

ROOT = Path(__file__).resolve().parents[1]
PLOT = ROOT / "docs" / "bench_fingerprints.png"
STRATEGIES = ("english_random", "perinucleus")
# Optimizer steps per run at most (epochs shrink as N grows, never below 3), sized so the full
# grid stays within about an hour on 2 CPU cores; a mixed step costs ~2x a plain one there.
STEP_BUDGET = 64
BASE_RECIPE = InjectConfig(lr=3e-4, epochs=12, batch_size=16, seed=0)
# Mixing by distillation: benign answers and train-split prose passages (anchors) are held to the
# base's next-token distribution (KL) instead of trained on its greedy answers (cross-entropy),
# which sharpened the model: at N = 32 perinucleus, held-out perplexity +69% with cross-entropy
# mixing, +6.8% with KL benign samples, -5.0% with KL benign samples and anchors, all at 100%
# accuracy (measurements in docs/FINGERPRINTING.md).
MIXED_RECIPE = replace(BASE_RECIPE, mix_share=0.25, benign_pool=64, avg_lambda=0.1, wrapper_share=0.25,
                       benign_loss="kl", anchor_share=0.25)


@dataclass(frozen=True)
class Run:
    strategy: str
    n: int
    mixed: bool  # data mixing + model averaging (and wrapper augmentation)

    @property
    def label(self) -> str:
        return f"{self.strategy} N={self.n} {'mix+avg' if self.mixed else 'plain'}"

    def recipe(self) -> InjectConfig:
        recipe = MIXED_RECIPE if self.mixed else BASE_RECIPE
        per_epoch = math.ceil(self.n / recipe.n_fingerprints)
        return replace(recipe, epochs=max(3, min(recipe.epochs, STEP_BUDGET // per_epoch)))


@dataclass
class Result:
    run: Run
    accuracy: float
    perplexity_change: float
    agreement: float
    persistence: float
    false_positives: float
    seconds: float
    steps: int


def grid(quick: bool) -> list[Run]:
    if quick:
        return [Run(s, n, True) for n in (8, 16) for s in STRATEGIES] + [Run("perinucleus", 8, False)]
    return ([Run(s, 64, mixed) for s in STRATEGIES for mixed in (False, True)]
            + [Run(s, n, True) for n in (16, 256) for s in STRATEGIES])


def measure(run: Run, base, tokenizer, base_ppl: float, attack: FinetuneAttack, seed: int,
            frontier: list | None = None, chunks: int = 1) -> Result:
    """Generate, inject (in `chunks` resumable calls, evaluating after each for the frontier), evaluate."""
    started = time.perf_counter()
    fps = generate_fingerprints(run.strategy, run.n, seed=seed, model=base, tokenizer=tokenizer)
    model, recipe = copy.deepcopy(base), run.recipe()
    with tempfile.TemporaryDirectory(prefix="oml-bench-fp-") as out:
        total = recipe.epochs * math.ceil(run.n / recipe.n_fingerprints)
        for chunk in range(chunks):
            result = inject(model, tokenizer, fps, recipe, base_model=base, output_dir=out if chunks > 1 else None,
                            resume=chunk > 0, max_steps=math.ceil(total / chunks) if chunks > 1 else None)
            if frontier is not None:
                model.eval()
                frontier.append((perplexity(model, tokenizer) / base_ppl - 1,
                                 fingerprint_accuracy(model, tokenizer, fps), result.steps))
    model.eval()
    trained_s = time.perf_counter() - started
    return Result(run, fingerprint_accuracy(model, tokenizer, fps), perplexity(model, tokenizer) / base_ppl - 1,
                  base_agreement(model, base, tokenizer), persistence(model, tokenizer, fps, attack),
                  false_positive_rate(base, tokenizer, fps), trained_s, result.steps)


def table(results: list[Result]) -> Table:
    out = Table(title="Fingerprints in SmolLM2-135M-Instruct")
    for column in ("run", "steps", "accuracy", "perplexity", "agreement", "persistence", "false pos.", "wall s"):
        out.add_column(column, justify="left" if column == "run" else "right")
    for r in results:
        out.add_row(r.run.label, str(r.steps), f"{r.accuracy:.1%}", f"{r.perplexity_change:+.1%}",
                    f"{r.agreement:.1%}", f"{r.persistence:.1%}", f"{r.false_positives:.1%}", f"{r.seconds:.0f}")
    return out


def markdown(results: list[Result], frontier: list, attack: FinetuneAttack, base_ppl: float, quick: bool) -> str:
    lines = [(f"### Fingerprint capacity{' (quick grid)' if quick else ''} — "
             f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine_line(with_torch=True)}"), "",
             (f"Command: `make bench-fingerprints{' ARGS=--quick' if quick else ''}`. Base held-out perplexity "
             f"{base_ppl:.2f}. Plain recipe: {_recipe_text(BASE_RECIPE)}; mix+avg: {_recipe_text(MIXED_RECIPE)}; "
             f"epochs capped at {STEP_BUDGET} steps per run. Persistence attack: {attack.steps} steps of SFT, "
             f"lr {attack.lr:g}, batch {attack.batch_size}, on benign instruction data (not the mixing data)."), "",
             "| run | steps | accuracy | perplexity change | agreement with base | persistence | false positives (base) | wall s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.run.label} | {r.steps} | {r.accuracy:.1%} | {r.perplexity_change:+.1%} | {r.agreement:.1%} | "
              f"{r.persistence:.1%} | {r.false_positives:.1%} | {r.seconds:.0f} |" for r in results]
    if frontier:
        lines += ["", "Frontier (perinucleus, mix+avg, largest N, evaluated during training): "
                  + ", ".join(f"{steps} steps: {acc:.0%} at {ppl:+.1%}" for ppl, acc, steps in frontier)]
    return "\n".join(lines) + "\n"


def _recipe_text(c: InjectConfig) -> str:
    text = (f"lr {c.lr:g}, batch {c.batch_size}, mix {c.mix_share:g}, averaging λ {c.avg_lambda:g}, "
            f"wrappers {c.wrapper_share:g}")
    if c.mix_share:
        text += f", benign loss {c.benign_loss}"
    if c.anchor_share:
        text += f", anchors {c.anchor_share:g} ({c.anchor_tokens} tokens)"
    if c.distills:
        text += f", KL weight {c.kl_weight:g}"
    if c.trainable:
        text += f", trainable {' '.join(c.trainable)}"
    return text


def plot(results: list[Result], frontier: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in results:
        marker = "o" if r.run.strategy == "perinucleus" else "s"
        left.scatter(r.perplexity_change * 100, r.accuracy * 100, marker=marker, s=30 + r.run.n / 2,
                     facecolors="none" if not r.run.mixed else None)
        left.annotate(r.run.label, (r.perplexity_change * 100, r.accuracy * 100), fontsize=7)
    if frontier:
        left.plot([p * 100 for p, _, _ in frontier], [a * 100 for _, a, _ in frontier], "k--", lw=1,
                  label="frontier during training")
        left.legend(fontsize=8)
    left.set(xlabel="held-out perplexity change (%)", ylabel="fingerprint accuracy (%)", title="utility vs accuracy")
    labels = [r.run.label for r in results]
    right.barh(labels, [r.persistence * 100 for r in results])
    right.set(xlabel="accuracy after the fine-tuning attack (%)", title="persistence")
    right.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grid, to check the pipeline")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-record", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args(argv)
    from oml_core.model.loading import load_model

    console = Console()
    base, tokenizer = load_model("smollm2")
    base.eval()
    base_ppl = perplexity(base, tokenizer)
    attack = FinetuneAttack()
    runs, results, frontier = grid(args.quick), [], []
    curve_run = max((r for r in runs if r.strategy == "perinucleus" and r.mixed), key=lambda r: r.n)
    for index, run in enumerate(runs, start=1):
        console.print(f"[bold]{index}/{len(runs)}[/] {run.label}")
        is_curve = run == curve_run
        results.append(measure(run, base, tokenizer, base_ppl, attack, args.seed,
                               frontier if is_curve else None, chunks=4 if is_curve else 1))
        console.print(table(results[-1:]))
    console.print(table(results))
    if not args.no_record:
        append_section(markdown(results, frontier, attack, base_ppl, args.quick))
        plot(results, frontier)
        console.print(f"appended to docs/BENCHMARKS.md; plot {PLOT}")


if __name__ == "__main__":
    main()
