"""`make bench-fingerprints`: how many fingerprints SmolLM2-135M-Instruct carries, at what cost.

Grid (issue 5): at N = 64 English-random and perinucleus, each plain and with data mixing +
model averaging; at N = 16 and 256 both strategies with mixing + averaging. For every run:
fingerprint accuracy (greedy, exact), relative held-out perplexity change, agreement with the
base model on benign prompts, persistence after the standard fine-tuning attack (ATTACK below),
false positives on the base model, training and wall time.
The baseline is the base model itself, measured in the same run (its perplexity, and its answers
to every fingerprint set: the false positives).

The frontier: the perinucleus mixing + averaging run at the largest N is also evaluated at four
points of its training, which draws accuracy against perplexity change as training goes on (a
curve, not one point). Results are appended to docs/BENCHMARKS.md with the date and the machine and drawn
in docs/bench_fingerprints.png. `--quick` runs a small grid (N = 8 and 16, few epochs) to check
the pipeline in a few minutes.
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
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
from oml_core.fingerprint.inject.plan import steps_per_epoch
from oml_core.fingerprint.inject.precision import uses_bf16
from oml_core.fingerprint.inject.train import inject
from oml_core.model.loading import default_device, load_model

ROOT = Path(__file__).resolve().parents[1]
PLOT = ROOT / "docs" / "bench_fingerprints.png"
STRATEGIES = ("english_random", "perinucleus")
# Optimizer steps per run at most (epochs shrink as N grows, never below 3): 128, four epochs of
# the N = 256 runs (perinucleus N = 256 was at 99.6% accuracy and -3.1% perplexity after three
# epochs of a six-epoch run). Smaller sets get at most MAX_EPOCHS passes (perinucleus N = 64
# mix+avg: 100% accuracy after 6, persistence 87.5%), but at least MIN_STEPS steps (the N = 16
# runs had 100% after 20).
STEP_BUDGET = 128
MAX_EPOCHS = 6
MIN_STEPS = 20
# The learning rate decays to zero (cosine) from this N up: over 128 steps it lets the KL anchors
# settle perplexity (N = 256 perinucleus: -2.9%). Below it the rate stays constant: a small set is
# learned in a few short epochs, and a decaying rate then leaves its fingerprints with a small
# margin that the attack erases (N = 16, 20 steps: persistence 0% English-random and 50%
# perinucleus with cosine, 94% and 81% with a constant rate; docs/FINGERPRINTING.md).
DECAY_FROM_N = 256
# What learns and how, in both recipes: the transformer layers (the tied embedding/output matrix
# stays the base's: a fifth of the weights, 8.5 -> 7.1 s per step), bfloat16 forward passes where
# the CPU runs them natively (1.6x faster steps), the base's distribution on the mixing pool
# computed once. Measured against the earlier recipe in docs/FINGERPRINTING.md.
BASE_RECIPE = InjectConfig(lr=3e-4, epochs=MAX_EPOCHS, batch_size=16, seed=0, trainable=("model.layers.*",),
                           mixed_precision="auto")
# Mixing by distillation: benign answers and train-split prose passages (anchors) are held to the
# base's next-token distribution (KL) instead of trained on its greedy answers (cross-entropy),
# which sharpened the model: at N = 32 perinucleus, held-out perplexity +69% with cross-entropy
# mixing, +6.8% with KL benign samples, -5.0% with KL benign samples and anchors, all at 100%
# accuracy (measurements in docs/FINGERPRINTING.md).
MIXED_RECIPE = replace(BASE_RECIPE, mix_share=0.25, benign_pool=64, avg_lambda=0.1, wrapper_share=0.25,
                       benign_loss="kl", anchor_share=0.25)
# The standard attack (20 steps of SFT of every weight), with bf16 forward passes where they are
# native, as the injection has them: 77-84 instead of 106-112 s a row on 2 cores, and on four
# N = 16 models it left exactly the fingerprints the float32 attack left.
ATTACK = FinetuneAttack(mixed_precision="auto")


@dataclass(frozen=True)
class Run:
    strategy: str
    n: int
    mixed: bool  # data mixing + model averaging (and wrapper augmentation)
    variant: str = ""                  # a name for `override`, shown in the label
    override: InjectConfig | None = None  # a recipe of its own instead of the grid's

    @property
    def kind(self) -> str:
        return "mix+avg" if self.mixed else "plain"

    @property
    def label(self) -> str:
        return f"{self.strategy} N={self.n} {self.variant or self.kind}"

    def recipe(self) -> InjectConfig:
        if self.override is not None:
            return self.override
        recipe = MIXED_RECIPE if self.mixed else BASE_RECIPE
        per_epoch = steps_per_epoch(self.n, recipe)
        epochs = max(3, math.ceil(MIN_STEPS / per_epoch), min(recipe.epochs, STEP_BUDGET // per_epoch))
        return replace(recipe, epochs=epochs,
                       lr_schedule="cosine" if self.n >= DECAY_FROM_N else recipe.lr_schedule)


@dataclass
class Result:
    run: Run
    accuracy: float
    perplexity_change: float
    agreement: float
    persistence: float
    false_positives: float
    seconds: float  # the whole row: generation (unless shared), training, evaluation, attack
    steps: int
    total_steps: int = 0
    # (perplexity change, accuracy, steps) at evenly spaced points of training.
    frontier: list[tuple[float, float, int]] = field(default_factory=list)
    training_seconds: float = 0.0  # inject() alone, frontier evaluations included


def grid(quick: bool) -> list[Run]:
    if quick:
        return [Run(s, n, True) for n in (8, 16) for s in STRATEGIES] + [Run("perinucleus", 8, False)]
    return ([Run(s, 64, mixed) for s in STRATEGIES for mixed in (False, True)]
            + [Run(s, n, True) for n in (16, 256) for s in STRATEGIES])


def measure(run: Run, base, tokenizer, base_ppl: float, attack: FinetuneAttack, seed: int, points: int = 1,
            batch_size: int = 16, deadline: float | None = None, sets: dict | None = None) -> Result:
    """Generate, inject and evaluate one run.

    points > 1: accuracy and perplexity are also measured at `points` evenly spaced steps of
    training (the frontier). deadline (time.monotonic()): training stops there; what was learned
    by then is evaluated, and Result.steps < Result.total_steps says so. sets: fingerprint sets
    (and the base's false positives on them) by (strategy, N, seed), shared by the rows that
    train the same set.
    """
    started = time.perf_counter()
    fps, false_positives = fingerprint_set(run, base, tokenizer, seed, batch_size, {} if sets is None else sets)
    model, recipe = copy.deepcopy(base), run.recipe()
    total = recipe.epochs * steps_per_epoch(run.n, recipe)
    marks = {math.ceil(total * k / points) for k in range(1, points)} if points > 1 else set()
    frontier: list[tuple[float, float, int]] = []

    def evaluate_point(step: int, trained) -> bool:
        if step in marks:
            trained.eval()
            frontier.append((perplexity(trained, tokenizer) / base_ppl - 1,
                             fingerprint_accuracy(trained, tokenizer, fps, batch_size), step))
        return deadline is not None and time.monotonic() > deadline

    trained_at = time.perf_counter()
    result = inject(model, tokenizer, fps, recipe, base_model=base, on_step=evaluate_point)
    training_s = time.perf_counter() - trained_at
    model = result.model
    model.eval()
    accuracy, ppl = fingerprint_accuracy(model, tokenizer, fps, batch_size), perplexity(model, tokenizer) / base_ppl - 1
    if points > 1:
        frontier.append((ppl, accuracy, result.steps))
    agreement = base_agreement(model, base, tokenizer, batch_size=batch_size)
    persisted = persistence(model, tokenizer, fps, attack, batch_size)
    return Result(run, accuracy, ppl, agreement, persisted, false_positives, time.perf_counter() - started,
                  result.steps, total, frontier, training_s)


def fingerprint_set(run: Run, base, tokenizer, seed: int, batch_size: int, sets: dict) -> tuple[list, float]:
    """The run's fingerprints and the base model's false-positive rate on them, made once per set."""
    key = (run.strategy, run.n, seed)
    if key not in sets:
        options = {"batch_size": batch_size} if run.strategy == "perinucleus" else {}
        fps = generate_fingerprints(run.strategy, run.n, seed=seed, model=base, tokenizer=tokenizer, **options)
        sets[key] = (fps, false_positive_rate(base, tokenizer, fps, batch_size))
    return sets[key]


def table(results: list[Result]) -> Table:
    out = Table(title="Fingerprints in SmolLM2-135M-Instruct")
    for column in ("run", "steps", "accuracy", "perplexity", "agreement", "persistence", "false pos.", "train s", "wall s"):
        out.add_column(column, justify="left" if column == "run" else "right")
    for r in results:
        out.add_row(r.run.label, _steps(r), f"{r.accuracy:.1%}", f"{r.perplexity_change:+.1%}",
                    f"{r.agreement:.1%}", f"{r.persistence:.1%}", f"{r.false_positives:.1%}", f"{r.training_seconds:.0f}", f"{r.seconds:.0f}")
    return out


def _steps(r: Result) -> str:
    return str(r.steps) if r.steps >= r.total_steps else f"{r.steps} of {r.total_steps} (deadline)"


def markdown(results: list[Result], heading: str, preamble: str) -> str:
    """One section of docs/BENCHMARKS.md: heading with date and machine, preamble, table, frontiers."""
    lines = [f"### {heading} — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine_line(with_torch=True)}", "",
             preamble, "",
             "| run | steps | accuracy | perplexity change | agreement with base | persistence | false positives (base) | train s | wall s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.run.label} | {_steps(r)} | {r.accuracy:.1%} | {r.perplexity_change:+.1%} | {r.agreement:.1%} | "
              f"{r.persistence:.1%} | {r.false_positives:.1%} | {r.training_seconds:.0f} | {r.seconds:.0f} |"
              for r in results]
    curves = [r for r in results if r.frontier]
    if curves:
        lines += ["", "Frontier (evaluated during training; steps: accuracy at perplexity change):", ""]
        lines += [f"- {r.run.label}: " + ", ".join(f"{steps}: {acc:.1%} at {ppl:+.1%}" for ppl, acc, steps in r.frontier)
                  for r in curves]
    return "\n".join(lines) + "\n"


def write(out: Path, results: list[Result], heading: str, preamble: str) -> None:
    """The results so far under `out`: results.md (the table), results.json and plot.png."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(markdown(results, heading, preamble))
    rows = [{**asdict(r), "run": {"label": r.run.label, "strategy": r.run.strategy, "n": r.run.n,
                                   "recipe": r.run.recipe().to_json()}} for r in results]
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    plot(results, out / "plot.png")


def grid_preamble(attack: FinetuneAttack, base_ppl: float, quick: bool, only: list[str] = (),
                  changes: dict | None = None, points: int | None = None) -> str:
    args = (["--quick"] if quick else []) + [f"--only '{text}'" for text in only]
    args += [f"--recipe '{json.dumps(changes)}'"] if changes else []
    args += [f"--points {points}"] if points else []
    command = "make bench-fingerprints" + (f' ARGS="{" ".join(args)}"' if args else "")
    text = (f"Command: `{command}`. Base held-out perplexity "
            f"{base_ppl:.2f}. Plain recipe: {recipe_text(BASE_RECIPE)}; mix+avg: {recipe_text(MIXED_RECIPE)}; "
            f"epochs capped at {STEP_BUDGET} steps per run; lr schedule cosine from N = {DECAY_FROM_N}; "
            f"{precision_text(MIXED_RECIPE)}. {attack_text(attack)}")
    if changes:
        text += f" Every run here changes its recipe by {json.dumps(changes)}."
    return text


def precision_text(recipe: InjectConfig) -> str:
    """What mixed_precision resolved to here ("auto" depends on the machine)."""
    on = uses_bf16(recipe.mixed_precision, torch.device(default_device()))
    return f"bf16 forward passes {'on' if on else 'off'} here"


def with_changes(run: Run, changes: dict) -> Run:
    """`run` with some fields of its recipe replaced (validated by InjectConfig itself)."""
    if not changes:
        return run
    recipe = replace(run.recipe(), **changes)
    return Run(run.strategy, run.n, run.mixed, f"{run.kind} (recipe changed)", recipe)


def attack_text(attack: FinetuneAttack) -> str:
    precision = f", mixed precision {attack.mixed_precision}" if attack.mixed_precision != "no" else ""
    return (f"Persistence attack: {attack.steps} steps of SFT of every weight, lr {attack.lr:g}, "
            f"batch {attack.batch_size}{precision}, on benign instruction data (not the mixing data).")


def recipe_text(c: InjectConfig) -> str:
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
    if c.lr_schedule != "constant":
        text += f", lr schedule {c.lr_schedule}"
    if c.mixed_precision != "no":
        text += f", mixed precision {c.mixed_precision}"
    return text


def plot(results: list[Result], path: Path = PLOT) -> None:
    """Accuracy against perplexity change (each run's frontier as a line), and persistence."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, r in enumerate(results):
        marker = "o" if r.run.strategy == "perinucleus" else "s"
        color = f"C{i % 10}"  # plain rows hollow: an explicit edge colour, or they would not show
        left.scatter(r.perplexity_change * 100, r.accuracy * 100, marker=marker, s=30 + min(r.run.n, 1024) / 8,
                     facecolors=color if r.run.mixed else "none", edgecolors=color)
        # Rows often share a point (100% accuracy): stagger their labels downwards.
        left.annotate(r.run.label, (r.perplexity_change * 100, r.accuracy * 100), fontsize=6,
                      textcoords="offset points", xytext=(4, -7 * (i % 6)))
        if r.frontier:
            left.plot([p * 100 for p, _, _ in r.frontier], [a * 100 for _, a, _ in r.frontier], "--", lw=1,
                      label=f"{r.run.label} during training")
    if any(r.frontier for r in results):
        left.legend(fontsize=7)
    # Plain rows cost thousands of percent, mixed ones a few: linear within ±10%, logarithmic beyond.
    left.set_xscale("symlog", linthresh=10)
    left.set(xlabel="held-out perplexity change (%, symlog)", ylabel="fingerprint accuracy (%)",
             title="utility vs accuracy")
    labels = [r.run.label for r in results]
    right.barh(labels, [r.persistence * 100 for r in results])
    right.set(xlabel="accuracy after the fine-tuning attack (%)", title="persistence")
    right.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grid, to check the pipeline")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only the grid rows whose label contains TEXT (repeatable), e.g. 'perinucleus N=256'")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "fingerprints",
                        help="the table, JSON and plot so far, rewritten after every run")
    parser.add_argument("--recipe", type=json.loads, default={}, metavar="JSON",
                        help="InjectConfig fields that replace the recipe's in every selected row, e.g. "
                             "'{\"epochs\": 6, \"lr_schedule\": \"constant\"}' (the step cap still sets epochs "
                             "unless epochs is given)")
    parser.add_argument("--points", type=int, default=None,
                        help="evaluate every run at this many points of its training "
                             "(default: 4 for the perinucleus mix+avg run at the largest N, 1 for the others)")
    parser.add_argument("--no-record", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args(argv)
    selected = [r for r in grid(args.quick) if not args.only or any(text in r.label for text in args.only)]
    if not selected:
        parser.error(f"no grid row matches {args.only}")
    if not isinstance(args.recipe, dict):
        parser.error("--recipe takes a JSON object of InjectConfig fields")
    if args.points is not None and args.points < 1:
        parser.error("--points must be >= 1")
    try:
        runs = [with_changes(r, args.recipe) for r in selected]
    except (TypeError, ValueError) as exc:
        parser.error(f"--recipe: {exc}")

    console = Console()
    base, tokenizer = load_model("smollm2")
    base.eval()
    base_ppl = perplexity(base, tokenizer)
    heading = f"Fingerprint capacity{' (quick grid)' if args.quick else ''}{' (selected rows)' if args.only else ''}"
    preamble = grid_preamble(ATTACK, base_ppl, args.quick, args.only, args.recipe, args.points)
    curve_run = max((r for r in grid(args.quick) if r.strategy == "perinucleus" and r.mixed), key=lambda r: r.n)
    results, sets = [], {}
    for index, (row, run) in enumerate(zip(selected, runs), start=1):
        console.print(f"[bold]{index}/{len(runs)}[/] {run.label}")
        points = args.points or (4 if row == curve_run else 1)
        results.append(measure(run, base, tokenizer, base_ppl, ATTACK, args.seed, points=points, sets=sets))
        console.print(table(results[-1:]))
        write(args.out, results, heading, preamble)  # an interrupted grid keeps the runs it finished
    console.print(table(results))
    if not args.no_record:
        append_section(markdown(results, heading, preamble))
        plot(results)
        console.print(f"appended to docs/BENCHMARKS.md; plot {PLOT}")


if __name__ == "__main__":
    main()
