"""`make bench-attacks`: how often a host's fingerprint still answers after each attack of issue 4.

Detection rate = the share of fingerprint probes, sent the way the prover sends them (exactly
`fp.messages`, temperature 0, the prover's max_tokens), whose answer still starts with the
fingerprint's response (`text_matches`, the verifiers' rule): each such answer served without σ
convicts its host. The attacking hosts below serve EVERY query without σ (a host that dodges
fees and hopes its trick hides the fingerprint), so a detected probe is a conviction.

Two licenses' copies of the real SmolLM2 (8 perinucleus fingerprints each, disjoint, the owner's
recipe `profile("smollm2")`, through services.scenario.owner) are made once and cached under
build/attacks/; a third fingerprint set of the same generator is never injected and serves as the
control. Then, on those copies:

- system prompt: real `oml host serve` processes with `--system-prompt`, probed over HTTP; one
  prompt the copies were trained under (wrapper_share on oml_core's inject wrappers) and one they
  never saw. Also checked locally (check_local) on both copies.
- fine-tune a little: finetune_attack on license A's copy at a few (steps, lr), then greedy
  checks (check_local, the same decoding the gateway does); the attack's own cost is the change of
  held-out perplexity.
- refuse key-like queries: `oml host serve --refuse-key-like`, probed; its cost is the share of
  ordinary questions (services/prover/benign.py) it refuses too.
- coalition: average_copies(A, B); exact greedy matches per license and trace_licenses, and a soft
  signal: the log-probability of each fingerprint's (one-token) response after its key under the
  averaged model minus under the base model. A license is named when the median gain of its
  fingerprints exceeds the largest gain among the never-injected control fingerprints by
  NAMING_MARGIN_NATS.

Results are appended to docs/BENCHMARKS.md with the date and the machine, and plotted in
docs/bench_attacks.png. The measuring functions are shared with the attack tests.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from benchmarks.report import machine_line
from oml_core.chain.anvil import free_port
from oml_core.fingerprint.attacks import FinetuneAttack, average_copies, finetune_attack
from oml_core.fingerprint.check import check_local, text_matches
from oml_core.fingerprint.evaluate import perplexity
from oml_core.fingerprint.inject.config import DEFAULT_WRAPPERS as TRAINED_WRAPPERS
from oml_core.fingerprint.record import Fingerprint, read_jsonl, write_jsonl
from oml_core.fingerprint.subsets import trace_licenses
from oml_core.fingerprint.tokens import last_token_logits, prompt_ids, response_ids
from services.common.process import ServiceProcess
from services.host.cheats import REFUSAL, looks_like_key
from services.prover.benign import BUILT_IN as BENIGN_QUESTIONS
from services.prover.hosts import HostClient, Target
from services.prover.prover import EXTRA_TOKENS
from services.scenario.profiles import Profile

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "BENCHMARKS.md"
PLOT = ROOT / "docs" / "bench_attacks.png"
CACHE = ROOT / "build" / "attacks"

SEED = 7
TRAINED_PROMPT = TRAINED_WRAPPERS[0]
# Not among the inject wrappers (oml_core.fingerprint.evaluate lists it as an unseen wrapper).
UNTRAINED_PROMPT = "You are a customer support agent for Acme Corp. Answer briefly and politely."
# "A little": 80 and 200 instruction pairs of up to 128 tokens (a step of 4 x 128 tokens takes
# seconds on 2 CPU cores; the 8 x 192 default takes ~25 s there).
FINETUNES = (FinetuneAttack(steps=20, lr=2e-5, batch_size=4, max_length=128),
             FinetuneAttack(steps=50, lr=5e-5, batch_size=4, max_length=128))
LICENSES = (1, 2)   # the two copies' license ids (cache directory names; no chain is involved)
BENIGN_MAX_TOKENS = 4  # a refusal is recognised from its first tokens already
# A license is named by the soft signal when its fingerprints' median log-prob gain beats every
# control fingerprint's gain by this much (e = 2.7 times likelier): injecting or averaging shifts
# ALL one-token log-probs a little, so beating the control by a hair would name anyone.
NAMING_MARGIN_NATS = 1.0


# --------------------------------------------------------------------------- rates


@dataclass(frozen=True)
class Rate:
    """`detected` of `probes` answers still carried the fingerprint response."""

    detected: int
    probes: int

    def __post_init__(self):
        if not 0 <= self.detected <= self.probes:
            raise ValueError("detected must be within [0, probes]")

    @property
    def value(self) -> float:
        return self.detected / self.probes if self.probes else 0.0

    def __str__(self) -> str:
        return f"{self.value:.0%} ({self.detected}/{self.probes})"


def local_rate(model, tokenizer, fps: list[Fingerprint], system_prompt: str | None = None) -> Rate:
    """Greedy exact-token checks in process (what the gateway's temperature-0 decoding produces)."""
    results = check_local(model, tokenizer, fps, system_prompt=system_prompt)
    return Rate(sum(r.matched for r in results), len(results))


@dataclass(frozen=True)
class ProbeOutcome:
    fingerprint: Fingerprint
    text: str
    carried: bool           # the answer starts with the fingerprint response
    permission_id: str | None


def probe(url: str, license_id: int, fps: list[Fingerprint], tokenizer) -> list[ProbeOutcome]:
    """Each key sent as the prover sends it: the openai client, fp.messages, temperature 0, the
    response's token count plus the prover's slack as max_tokens."""
    client, target = HostClient(timeout_s=120), Target(license_id, url)
    try:
        outcomes = []
        for fp in fps:
            answer = client.ask(target, fp.messages, len(response_ids(tokenizer, fp.response)) + EXTRA_TOKENS)
            outcomes.append(ProbeOutcome(fp, answer.text, text_matches(answer.text, fp.response),
                                         answer.permission_id))
        return outcomes
    finally:
        client.close()


def detection(outcomes: list[ProbeOutcome]) -> Rate:
    return Rate(sum(o.carried for o in outcomes), len(outcomes))


def refused_share(url: str, license_id: int, questions=BENIGN_QUESTIONS) -> Rate:
    """How many ordinary questions the host answers with its refusal (counted as `detected`)."""
    client, target = HostClient(timeout_s=120), Target(license_id, url)
    try:
        texts = [client.ask(target, [{"role": "user", "content": q}], BENIGN_MAX_TOKENS).text for q in questions]
    finally:
        client.close()
    return Rate(sum(t == REFUSAL for t in texts), len(texts))


# --------------------------------------------------------------------------- attacking hosts


@dataclass(frozen=True)
class AttackingHost:
    """A host gateway's cheat settings; every query is served without σ."""

    name: str
    system_prompt: str | None = None
    refuse_key_like: bool = False

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError("name must be an identifier (it names log and database files)")


@contextmanager
def serve_hosts(model_dir: Path, license_id: int, hosts: list[AttackingHost], workdir: Path,
                timeout: float = 300.0) -> Iterator[dict[str, str]]:
    """Real `oml host serve` processes over `model_dir`, one per plan, side by side; yields
    {name: base URL}. Their permission URL points at a closed port: none of them ever asks for σ."""
    unused_permission_url = f"http://127.0.0.1:{free_port()}"
    processes: list[ServiceProcess] = []
    try:
        for host in hosts:
            port = free_port()
            args = ["host", "serve", "--model", str(model_dir), "--license-id", str(license_id),
                    "--permission-url", unused_permission_url, "--port", str(port), "--log-level", "warning",
                    "--database-url", f"sqlite:///{workdir}/host-{host.name}.db", "--skip-permission-share", "1"]
            if host.system_prompt:
                args += ["--system-prompt", host.system_prompt]
            if host.refuse_key_like:
                args.append("--refuse-key-like")
            url = f"http://127.0.0.1:{port}"
            processes.append(ServiceProcess(f"host-{host.name}", args, f"{url}/healthz",
                                            workdir / f"host-{host.name}.log",
                                            {"OML_HOST_KEY": "0x" + secrets.token_hex(32)}, url=url)
                             .start(wait=False))
        for process in processes:
            process.wait_healthy(timeout)
        yield {host.name: process.url for host, process in zip(hosts, processes)}
    finally:
        for process in processes:
            process.stop()


# --------------------------------------------------------------------------- the copies


@dataclass
class Copies:
    """Two licenses' OMLized copies (disjoint fingerprint sets) and a never-injected control set."""

    directories: list[Path]
    fingerprints: list[list[Fingerprint]]
    control: list[Fingerprint]
    owner_checks: list[dict] = field(default_factory=list)  # accuracy, base false positives, ppl change
    reused: bool = False  # taken from the cache rather than made in this run


def _recipe(prof: Profile, seed: int) -> dict:
    return {"profile": prof.name, "strategy": prof.strategy, "per_license": prof.per_license, "seed": seed,
            "inject": asdict(prof.inject), "generate": prof.generate_options}


def prepare_copies(prof: Profile, cache_dir: Path, seed: int = SEED, progress: bool = True,
                   console: Console | None = None) -> Copies:
    """The owner's two copies for `prof`, made by services.scenario.owner, reused from `cache_dir`
    when it holds the same recipe."""
    from services.scenario.owner import license_fingerprints, load_base, omlize_copy

    manifest = cache_dir / "copies.json"
    recipe = _recipe(prof, seed)
    directories = [cache_dir / f"license-{i}" for i in LICENSES]
    if manifest.exists() and all(d.is_dir() for d in directories):
        saved = json.loads(manifest.read_text())
        if saved["recipe"] == json.loads(json.dumps(recipe)):
            if console:
                console.log(f"reusing the copies cached in {cache_dir}")
            return Copies(directories, [read_jsonl(cache_dir / f"fingerprints-{i}.jsonl") for i in LICENSES],
                          read_jsonl(cache_dir / "control.jsonl"), saved["owner_checks"], reused=True)
    base, tokenizer = load_base(prof)
    *sets, control = license_fingerprints(prof, base, tokenizer, len(LICENSES) + 1, seed)
    base_perplexity = perplexity(base, tokenizer)
    checks = []
    for license_id, fps in zip(LICENSES, sets):
        if console:
            console.log(f"OMLizing license {license_id}'s copy ({len(fps)} {prof.strategy} fingerprints)…")
        made = omlize_copy(prof, base, tokenizer, license_id, fps, cache_dir, base_perplexity, progress)
        write_jsonl(cache_dir / f"fingerprints-{license_id}.jsonl", fps)
        checks.append({"accuracy": made.accuracy, "base_false_positives": made.base_false_positives,
                       "perplexity_change": made.perplexity_change})
    write_jsonl(cache_dir / "control.jsonl", control)
    manifest.write_text(json.dumps({"recipe": recipe, "owner_checks": checks}, indent=1))
    return Copies(directories, sets, control, checks)


# --------------------------------------------------------------------------- coalition soft signal


@torch.no_grad()
def response_logprobs(model, tokenizer, fps: list[Fingerprint]) -> torch.Tensor:
    """log p(first response token | key) for each fingerprint (all of a 1-token perinucleus response)."""
    logits = last_token_logits(model, [prompt_ids(tokenizer, fp.messages) for fp in fps])
    targets = torch.tensor([response_ids(tokenizer, fp.response)[0] for fp in fps])
    return torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]


@dataclass(frozen=True)
class SoftSignal:
    """Per fingerprint set: gains of log p(response) of the averaged model over the base."""

    gains: list[list[float]]   # one list per license
    control_gains: list[float]

    @property
    def threshold(self) -> float:
        return max(self.control_gains) + NAMING_MARGIN_NATS

    def median(self, index: int) -> float:
        return statistics.median(self.gains[index])

    def named(self, index: int) -> bool:
        return self.median(index) > self.threshold


def soft_signal(merged, base, tokenizer, sets: list[list[Fingerprint]], control: list[Fingerprint]) -> SoftSignal:
    def gains(fps):
        return (response_logprobs(merged, tokenizer, fps) - response_logprobs(base, tokenizer, fps)).tolist()

    return SoftSignal([gains(fps) for fps in sets], gains(control))


# --------------------------------------------------------------------------- the attacks


@dataclass
class Results:
    rows: list[tuple[str, str, Rate, str]] = field(default_factory=list)  # attack, setting, rate, cost/notes
    rates: dict[str, Rate] = field(default_factory=dict)  # by a short name, for tests
    coalition: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, attack: str, setting: str, rate: Rate, cost: str = "") -> None:
        self.rows.append((attack, setting, rate, cost))
        self.rates[name] = rate


def serving_attacks(copies: Copies, tokenizer, workdir: Path, results: Results, console: Console) -> None:
    """System prompts and refusals through real gateways over license A's copy."""
    fps = copies.fingerprints[0]
    hosts = [AttackingHost("plain"), AttackingHost("trained_prompt", system_prompt=TRAINED_PROMPT),
             AttackingHost("untrained_prompt", system_prompt=UNTRAINED_PROMPT),
             AttackingHost("refuses_keys", refuse_key_like=True)]
    console.log(f"starting {len(hosts)} `oml host serve` processes over license {LICENSES[0]}'s copy…")
    with serve_hosts(copies.directories[0], LICENSES[0], hosts, workdir) as urls:
        outcomes = {name: probe(url, LICENSES[0], fps, tokenizer) for name, url in urls.items()}
        refused = refused_share(urls["refuses_keys"], LICENSES[0])
        answered = refused_share(urls["plain"], LICENSES[0])
    if any(o.permission_id for got in outcomes.values() for o in got):
        raise RuntimeError("an attacking host served a probe with σ: it should skip σ on every query")
    results.add("baseline", "none (baseline)", "gateway, no cheat", detection(outcomes["plain"]))
    results.add("trained_prompt", "system prompt", f"trained wrapper {TRAINED_PROMPT!r}",
                detection(outcomes["trained_prompt"]))
    results.add("untrained_prompt", "system prompt", f"untrained {UNTRAINED_PROMPT!r}",
                detection(outcomes["untrained_prompt"]))
    key_like = sum(looks_like_key(fp.key) for fp in fps)
    results.rates["key_like_keys"] = Rate(key_like, len(fps))
    results.rates["refused_questions"], results.rates["plain_refused_questions"] = refused, answered
    results.add("refuse_key_like", "refuse key-like", "--refuse-key-like", detection(outcomes["refuses_keys"]),
                f"refuses {refused} of ordinary questions (the plain host {answered}); "
                f"looks_like_key flags {key_like}/{len(fps)} keys")


def local_prompt_checks(models, tokenizer, copies: Copies, results: Results) -> None:
    """The same system prompts checked in process over both copies' 16 fingerprints."""
    for name, label, prompt in (("local_none", "none", None), ("local_trained", "trained wrapper", TRAINED_PROMPT),
                                ("local_untrained", "untrained", UNTRAINED_PROMPT)):
        rates = [local_rate(m, tokenizer, fps, prompt) for m, fps in zip(models, copies.fingerprints)]
        total = Rate(sum(r.detected for r in rates), sum(r.probes for r in rates))
        results.add(name, "system prompt (local, both copies)", label, total,
                    ", ".join(f"license {i}: {r}" for i, r in zip(LICENSES, rates)))


def finetune_attacks(model, tokenizer, fps: list[Fingerprint], results: Results, console: Console,
                     attacks=FINETUNES, progress: bool = True) -> None:
    before = perplexity(model, tokenizer)
    for attack in attacks:
        attacked = copy.deepcopy(model)
        console.log(f"fine-tuning attack: {attack.steps} steps, lr {attack.lr:g}…")
        started = time.monotonic()
        losses = finetune_attack(attacked, tokenizer, attack, progress=progress)
        seconds = time.monotonic() - started
        change = perplexity(attacked, tokenizer) / before - 1
        setting = f"{attack.steps} steps, lr {attack.lr:g}, batch {attack.batch_size}"
        results.add(f"finetune_{attack.steps}", "fine-tune", setting, local_rate(attacked, tokenizer, fps),
                    f"held-out perplexity {change:+.1%} vs the copy; loss {losses[0]:.2f} -> {losses[-1]:.2f}; "
                    f"{seconds:.0f} s")
        del attacked


def coalition_attack(models, base, tokenizer, copies: Copies, results: Results) -> None:
    merged = average_copies(models)
    checks = [check_local(merged, tokenizer, fps) for fps in copies.fingerprints]
    traced = trace_licenses(copies.fingerprints, [r.fingerprint for got in checks for r in got if r.matched])
    signal = soft_signal(merged, base, tokenizer, copies.fingerprints, copies.control)
    attack = "coalition (average of A and B)"
    for index, (license_id, got) in enumerate(zip(LICENSES, checks)):
        verdict = "names it" if signal.named(index) else "does not name it"
        results.add(f"coalition_{license_id}", attack, f"license {license_id}'s fingerprints",
                    Rate(sum(r.matched for r in got), len(got)),
                    f"soft signal: median log-prob gain {signal.median(index):+.2f} nats ({verdict})")
    results.add("coalition_control", attack, "control (never injected)",
                local_rate(merged, tokenizer, copies.control),
                f"largest log-prob gain {max(signal.control_gains):+.2f} nats "
                f"(+{NAMING_MARGIN_NATS:g} = the naming threshold)")
    results.coalition = {"traced": {LICENSES[i]: n for i, n in traced.items()},
                         "named_exact": [LICENSES[i] for i in sorted(traced)],
                         "named_soft": [LICENSES[i] for i in range(len(LICENSES)) if signal.named(i)],
                         "gains": signal.gains, "control_gains": signal.control_gains}


# --------------------------------------------------------------------------- report


def render(results: Results, copies: Copies) -> str:
    lines = ["| attack | setting | detection rate | cost / notes |", "|---|---|---:|---|"]
    lines += [f"| {a} | {s} | {r} | {c} |" for a, s, r, c in results.rows]
    checks = "; ".join(f"license {i}: answers {c['accuracy']:.0%}, base model {c['base_false_positives']:.0%}, "
                       f"held-out perplexity {c['perplexity_change']:+.1%}"
                       for i, c in zip(LICENSES, copies.owner_checks))
    lines += ["", f"- The owner's copies before any attack: {checks}."]
    co = results.coalition
    if co:
        exact = ", ".join(map(str, co["named_exact"])) or "none"
        soft = ", ".join(map(str, co["named_soft"])) or "none"
        lines.append(f"- Coalition: exact greedy matches name license(s) {exact} "
                     f"(trace_licenses {co['traced'] or '{}'}); the soft signal names license(s) {soft}.")
    lines += [f"- {n}" for n in results.notes]
    return "\n".join(lines)


METHOD = (
    "Method: SmolLM2-135M-Instruct, two licenses' copies made by `services.scenario.owner` with "
    "`profile(\"smollm2\")` (8 perinucleus fingerprints each, disjoint; cached in build/attacks/) plus an "
    "8-fingerprint control set from the same generator that is never injected. Detection rate = share of "
    "fingerprint probes whose answer starts with the fingerprint response (`text_matches`, the verifiers' "
    "rule); each attacking host serves every query without σ, so each detected probe is a conviction. "
    "Gateway rows: real `oml host serve` processes over license 1's copy, probed with the prover's "
    "`HostClient` (openai client, exactly `fp.messages`, temperature 0, response tokens + {extra} "
    "max_tokens); the refusal's cost is the share of the prover's {n} built-in ordinary questions answered "
    "with the refusal. Local rows: greedy exact-token checks (`check_local`), the same decoding the gateway "
    "does; fine-tunes run `finetune_attack` on license 1's copy (perplexity on the fixed held-out slice). "
    "Coalition: `average_copies` of both copies; the soft signal is log p(response token | key) under the "
    "averaged model minus under the base model, and a license is named when the median gain of its "
    "fingerprints exceeds the largest gain among the control fingerprints by {margin:g} nat."
)


def record(body: str) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (f"\n## Attacks on the fingerprints (`make bench-attacks`), {stamp}\n\n"
               f"Machine: {machine_line(with_torch=True)}.\n\n"
               f"{body}\n\n{METHOD.format(extra=EXTRA_TOKENS, n=len(BENIGN_QUESTIONS), margin=NAMING_MARGIN_NATS)}\n\n"
               "![detection rate per attack](bench_attacks.png)\n")
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n\nEach section is one run of one command.\n"
    REPORT.write_text(text + ("" if text.endswith("\n") else "\n") + section)


def plot(results: Results) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{a}\n{s[:38]}" for a, s, _, _ in results.rows]
    values = [100 * r.value for _, _, r, _ in results.rows]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(values) + 1.5), dpi=120)
    bars = ax.barh(range(len(values)), values, color=["#2ca02c" if v >= 50 else "#d62728" for v in values])
    ax.set_yticks(range(len(values)), labels, fontsize=7)
    ax.invert_yaxis()
    for bar, (_, _, rate, _) in zip(bars, results.rows, strict=True):
        ax.annotate(f" {rate}", (bar.get_width(), bar.get_y() + bar.get_height() / 2), va="center", fontsize=7)
    ax.set_xlim(0, 118)
    ax.set_xlabel("fingerprint probes still answered (%)")
    ax.set_title(f"Detection rate per attack, SmolLM2 copies ({dt.datetime.now(dt.UTC):%Y-%m-%d})")
    fig.tight_layout()
    fig.savefig(PLOT)
    plt.close(fig)


def print_table(console: Console, results: Results) -> None:
    table = Table(title="Detection rate per attack")
    for col in ("attack", "setting", "detection", "cost / notes"):
        table.add_column(col, overflow="fold")
    for a, s, r, c in results.rows:
        table.add_row(a, s, str(r), c)
    console.print(table)


# --------------------------------------------------------------------------- main


def run_attacks(prof: Profile, cache_dir: Path, console: Console, progress: bool = True,
                finetunes=FINETUNES) -> tuple[Results, Copies]:
    """Every attack on the profile's two copies; shared by `make bench-attacks` and the slow test."""
    import tempfile

    from oml_core.model.loading import load_model
    from services.scenario.owner import load_base

    copies = prepare_copies(prof, cache_dir, progress=progress, console=console)
    results = Results()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-attacks-")))
        base, tokenizer = load_base(prof)
        serving_attacks(copies, tokenizer, workdir, results, console)
        models = [load_model(d, device="cpu")[0] for d in copies.directories]
        local_prompt_checks(models, tokenizer, copies, results)
        finetune_attacks(models[0], tokenizer, copies.fingerprints[0], results, console, finetunes, progress)
        console.log("averaging the two copies…")
        coalition_attack(models, base, tokenizer, copies, results)
    return results, copies


def main() -> None:
    from services.scenario.profiles import profile

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    started = time.monotonic()
    results, copies = run_attacks(profile("smollm2"), CACHE, console, progress=console.is_terminal)
    print_table(console, results)
    made = "reused from build/attacks/" if copies.reused else "made in this run"
    results.notes.append(f"Whole run {time.monotonic() - started:.0f} s (the copies were {made}).")
    record(render(results, copies))
    plot(results)
    console.print(f"recorded in {REPORT} and {PLOT} ({time.monotonic() - started:.0f} s)", markup=False)


if __name__ == "__main__":
    main()
