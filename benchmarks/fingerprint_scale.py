"""`make bench-fingerprints-scale`: fingerprint capacity at N = 1024 and 4096, on a CUDA GPU.

Issue 5 asks for N = 1024 and 4096 where a GPU is available. Each run is the CPU grid's
measurement (benchmarks.fingerprints.measure: accuracy, held-out perplexity change, agreement
with the base, persistence after the standard attack, false positives on the base) at batch 256,
and every run is also evaluated at eight points of its training, so each one draws a frontier
curve of accuracy against perplexity change.

Runs go in priority order, and a deadline bounds the whole sweep. A run that reaches the
deadline stops training, and what it learned by then is evaluated and marked as such. Runs that
do not start before the deadline are listed as not run. After every run the table, a JSON file
and the plot are rewritten under --out, so a sweep cut short still leaves its results.
The issue's published-recipe baseline (cross-entropy mixing 0.25, no averaging) runs in the
same sweep at N = 1024 for comparison.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch
from rich.console import Console

from benchmarks.fingerprints import (
    MIXED_RECIPE,
    Run,
    attack_text,
    markdown,
    measure,
    plot,
    recipe_text,
    table,
    write,
)
from benchmarks.report import append_section
from oml_core.fingerprint.attacks import FinetuneAttack
from oml_core.fingerprint.evaluate import perplexity
from oml_core.fingerprint.inject.config import InjectConfig
from oml_core.fingerprint.inject.plan import steps_per_epoch

ROOT = Path(__file__).resolve().parents[1]
PLOT = ROOT / "docs" / "bench_fingerprints_scale.png"
BATCH = 256
# The CPU grid's mixing by distillation at the published batch size, with more epochs (the GPU has
# the time), as measured on the H200 on 2026-11-28: every weight learns, constant lr, float32.
SCALE_RECIPE = replace(MIXED_RECIPE, batch_size=BATCH, benign_pool=BATCH, epochs=40, trainable=(),
                       lr_schedule="constant", mixed_precision="no")
# The baseline: cross-entropy mixing 0.25 on the base's greedy answers, no averaging.
PUBLISHED = InjectConfig(lr=3e-4, epochs=40, batch_size=BATCH, mix_share=0.25, benign_pool=BATCH, seed=0)


def runs(sizes: tuple[int, ...]) -> list[Run]:
    """Priority order: the recipe at every size first, then the baseline and variants at the smallest."""
    small = min(sizes)
    out = [Run(s, n, True, "mix+avg", _epochs(SCALE_RECIPE, n)) for n in sizes
           for s in ("perinucleus", "english_random")]
    out += [Run("perinucleus", small, False, "published (ce mix, no avg)", _epochs(PUBLISHED, small)),
            Run("perinucleus", small, True, "mix+avg lr 1e-4", _epochs(replace(SCALE_RECIPE, lr=1e-4), small)),
            Run("perinucleus", small, True, "mix+avg λ 0.25", _epochs(replace(SCALE_RECIPE, avg_lambda=0.25), small)),
            Run("perinucleus", small, True, "KL mix + LoRA r64",
                _epochs(replace(SCALE_RECIPE, avg_lambda=0.0, lora_rank=64, lr=1e-3), small))]
    return out


def _epochs(recipe, n: int):
    """Fewer epochs for the largest sets, so that a run stays near 1,000 steps."""
    return replace(recipe, epochs=max(10, min(recipe.epochs, 1000 // steps_per_epoch(n, recipe))))


def preamble(attack: FinetuneAttack, base_ppl: float, sizes, deadline_s: float, skipped: list[Run]) -> str:
    text = (f"Command: `make bench-fingerprints-scale` (sizes {', '.join(map(str, sizes))}, deadline "
            f"{deadline_s:.0f} s). Base held-out perplexity {base_ppl:.2f}. Recipe: {recipe_text(SCALE_RECIPE)}, "
            f"epochs capped to about 1,000 steps per run; published baseline: {recipe_text(PUBLISHED)}. "
            f"{attack_text(attack)}")
    if skipped:
        text += " Not run before the deadline: " + "; ".join(r.label for r in skipped) + "."
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--deadline", type=float, default=3000.0, help="seconds for the whole sweep")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--model", default="smollm2", help="reference model or a local checkpoint")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "fingerprint-scale")
    parser.add_argument("--no-record", action="store_true", help="leave docs/ alone (the files under --out are written)")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA (to check the pipeline)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available() and not args.allow_cpu:
        parser.error("no CUDA GPU here: this sweep is for a GPU (--allow-cpu runs it anyway)")
    from oml_core.model.loading import load_model

    torch.backends.cuda.matmul.allow_tf32 = True  # TF32 matrix units for float32 training on the GPU
    console = Console()
    started = time.monotonic()
    deadline = started + args.deadline
    base, tokenizer = load_model(args.model)
    base_ppl = perplexity(base, tokenizer)
    attack = FinetuneAttack()
    sizes = tuple(sorted(args.sizes))
    plan, results, sets = runs(sizes), [], {}  # the variant rows reuse the smallest size's set
    heading = "Fingerprint capacity at scale"
    for index, run in enumerate(plan, start=1):
        if time.monotonic() > deadline:
            break
        console.print(f"[bold]{index}/{len(plan)}[/] {run.label} ({time.monotonic() - started:.0f} s)")
        results.append(measure(run, base, tokenizer, base_ppl, attack, args.seed, points=8, batch_size=BATCH, sets=sets,
                               deadline=deadline))
        console.print(table(results[-1:]))
        write(args.out, results, heading, preamble(attack, base_ppl, sizes, args.deadline, plan[len(results):]))
    console.print(table(results))
    text = preamble(attack, base_ppl, sizes, args.deadline, plan[len(results):])
    if not args.no_record:
        append_section(markdown(results, heading, text))
        plot(results, PLOT)
    console.print(f"results in {args.out}")


if __name__ == "__main__":
    main()
