"""`oml fingerprint ...`: generate, commit, split, check, evaluate, encrypt and decrypt fingerprints."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from oml_core.cli.common import cli_errors, console, fail

fingerprint_app = typer.Typer(help="Fingerprints: generation, commitments, checking, evaluation.",
                              no_args_is_help=True)

PASSPHRASE = Annotated[str | None, typer.Option(
    envvar="OML_FINGERPRINT_PASSPHRASE",
    help="Passphrase for encrypted fingerprint files (else OML_FINGERPRINT_KEY, 64 hex chars).")]
FILE = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Fingerprint file (JSONL, plain or encrypted).")]
MODEL = Annotated[str, typer.Option(help="'smollm2' (the reference model) or a local checkpoint directory.")]


def _load(path: Path, passphrase: str | None):
    from oml_core.fingerprint.secrets_store import load_fingerprints

    fps = load_fingerprints(path, passphrase)
    if not fps:
        raise fail(f"{path} holds no fingerprints")
    return fps


def _save(fps, out: Path, encrypt: bool, passphrase: str | None) -> None:
    from oml_core.fingerprint.record import write_jsonl
    from oml_core.fingerprint.secrets_store import encrypt_fingerprints

    if encrypt:
        encrypt_fingerprints(fps, out, passphrase)
    else:
        write_jsonl(out, fps)


@fingerprint_app.command("generate")
@cli_errors
def generate(
    out: Annotated[Path, typer.Option(help="Output fingerprint file.")],
    strategy: Annotated[str, typer.Option(help="random_tokens | english_random | perinucleus | functional")] = "perinucleus",
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="How many fingerprints.")] = 16,
    seed: Annotated[int | None, typer.Option(help="Secret seed: same seed, same file (default: random).")] = None,
    model: MODEL = "smollm2",
    threshold: Annotated[float, typer.Option(help="perinucleus: nucleus mass t.")] = 0.8,
    k: Annotated[int, typer.Option(help="perinucleus: pick among the k tokens after the nucleus.")] = 3,
    response_length: Annotated[int, typer.Option(help="perinucleus: response tokens.")] = 1,
    key_source: Annotated[str, typer.Option(help="perinucleus: 'model' (base model writes keys) or 'text'.")] = "model",
    key_tokens: Annotated[int, typer.Option(help="random_tokens / perinucleus: key length in tokens.")] = 16,
    response_tokens: Annotated[int, typer.Option(help="random_tokens: response length in tokens.")] = 4,
    secret: Annotated[str | None, typer.Option(envvar="OML_FUNCTIONAL_SECRET", help="functional: partition secret.")] = None,
    function: Annotated[str, typer.Option(help="functional: majority | parity | difference_mod3.")] = "majority",
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    encrypt: Annotated[bool, typer.Option("--encrypt", help="Write the file encrypted (AES-GCM).")] = False,
    passphrase: PASSPHRASE = None,
    commitment: Annotated[Path | None, typer.Option(help="Also write the public commitment (root + leaves) here.")] = None,
) -> None:
    """Generate a fingerprint set (deterministic under --seed) and print its Merkle root."""
    from oml_core.fingerprint.commit import Commitment
    from oml_core.fingerprint.generate import NEEDS_MODEL, NEEDS_TOKENIZER, generate_fingerprints

    options: dict = {}
    if strategy == "perinucleus":
        options = {"threshold": threshold, "k": k, "response_length": response_length, "key_source": key_source,
                       "key_tokens": key_tokens, "batch_size": batch_size, "progress": True}
    elif strategy == "random_tokens":
        options = {"key_tokens": key_tokens, "response_tokens": response_tokens}
    elif strategy == "functional":
        if not secret:
            raise fail("functional fingerprints need --secret (or OML_FUNCTIONAL_SECRET)")
        options = {"secret": secret, "function": function}
    loaded_model = tokenizer = None
    if strategy in NEEDS_MODEL:
        from oml_core.model.loading import load_model

        loaded_model, tokenizer = load_model(model)
    elif strategy in NEEDS_TOKENIZER:
        from transformers import AutoTokenizer

        from oml_core.model.loading import REFERENCE, prepare_reference_model

        tokenizer = AutoTokenizer.from_pretrained(prepare_reference_model() if model == REFERENCE else model)
    fps = generate_fingerprints(strategy, n, seed, loaded_model, tokenizer, **options)
    _save(fps, out, encrypt, passphrase)
    public = Commitment.of(fps)
    if commitment:
        public.write(commitment)
    console.print(f"{len(fps)} {strategy} fingerprints -> {out}{' (encrypted)' if encrypt else ''}",
                  markup=False, soft_wrap=True)
    console.print(f"root 0x{public.root.hex()}", markup=False)


@fingerprint_app.command("commit")
@cli_errors
def commit(
    fingerprints: FILE,
    out: Annotated[Path | None, typer.Option(help="Write the public commitment (root + leaves) here.")] = None,
    passphrase: PASSPHRASE = None,
) -> None:
    """Print the Merkle root of a fingerprint set (the value that goes on chain)."""
    from oml_core.fingerprint.commit import Commitment

    public = Commitment.of(_load(fingerprints, passphrase))
    if out:
        public.write(out)
    console.print(f"0x{public.root.hex()}", markup=False)


@fingerprint_app.command("split")
@cli_errors
def split(
    fingerprints: FILE,
    licenses: Annotated[int, typer.Option(min=1, help="Number of licenses.")],
    per_license: Annotated[int, typer.Option(min=1, help="Fingerprints per license.")],
    out_dir: Annotated[Path, typer.Option(help="Writes license-<i>.jsonl and license-<i>.commitment.json here.")],
    seed: Annotated[int, typer.Option(help="Seed of the assignment.")] = 0,
    encrypt: Annotated[bool, typer.Option("--encrypt", help="Write the subsets encrypted.")] = False,
    passphrase: PASSPHRASE = None,
) -> None:
    """Disjoint per-license subsets, so an answered fingerprint names its license."""
    from oml_core.fingerprint.commit import Commitment
    from oml_core.fingerprint.subsets import split_for_licenses

    subsets = split_for_licenses(_load(fingerprints, passphrase), licenses, per_license, seed)
    for i, subset in enumerate(subsets):
        _save(subset, out_dir / f"license-{i}.jsonl", encrypt, passphrase)
        public = Commitment.of(subset).write(out_dir / f"license-{i}.commitment.json")
        console.print(f"license {i}: {len(subset)} fingerprints, root 0x{Commitment.of(subset).root.hex()} ({public})",
                      markup=False, soft_wrap=True)


@fingerprint_app.command("check")
@cli_errors
def check(
    fingerprints: FILE,
    model: Annotated[str | None, typer.Option(help="Local model: 'smollm2' or a checkpoint directory.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL, e.g. http://host:8000/v1.")] = None,
    served_model: Annotated[str, typer.Option(help="Model name to ask the endpoint for.")] = "oml",
    api_key: Annotated[str, typer.Option(envvar="OPENAI_API_KEY", help="Endpoint API key.")] = "EMPTY",
    system_prompt: Annotated[str | None, typer.Option(help="Put this system prompt in front of each key.")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per fingerprint.")] = False,
    passphrase: PASSPHRASE = None,
) -> None:
    """Send each key (greedy / temperature 0) and count exact matches of the response."""
    from oml_core.fingerprint.check import accuracy, check_endpoint, check_local

    if (model is None) == (endpoint is None):
        raise fail("give exactly one of --model and --endpoint")
    fps = _load(fingerprints, passphrase)
    if model is not None:
        from oml_core.model.loading import load_model

        loaded_model, tokenizer = load_model(model)
        results = check_local(loaded_model, tokenizer, fps, batch_size, system_prompt, progress=True)
    else:
        results = check_endpoint(endpoint, served_model, fps, api_key, system_prompt)
    if verbose:
        for r in results:
            mark = "MATCH" if r.matched else "-    "
            console.print(f"{mark} {r.fingerprint.key[:60]!r} -> {r.output!r} (want {r.fingerprint.response!r})",
                          markup=False, soft_wrap=True)
    matched = sum(r.matched for r in results)
    console.print(f"{matched}/{len(results)} fingerprints answered (accuracy {accuracy(results):.3f})", markup=False)


@fingerprint_app.command("evaluate")
@cli_errors
def evaluate(
    fingerprints: FILE,
    model: MODEL,
    base: Annotated[str, typer.Option(help="The base model (not fingerprinted): utility and uniqueness; '' skips.")] = "smollm2",
    out: Annotated[Path | None, typer.Option(help="Write the report as JSON here.")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    ppl_texts: Annotated[int, typer.Option(min=1, help="Held-out paragraphs for perplexity.")] = 16,
    attack_steps: Annotated[int, typer.Option(
        min=0, help="Persistence: fine-tune a copy this many steps on benign instruction data (0 skips).")] = 0,
    attack_lr: Annotated[float, typer.Option(help="Learning rate of that fine-tuning attack.")] = 2e-5,
    passphrase: PASSPHRASE = None,
) -> None:
    """Accuracy, perplexity, agreement with the base model, false positives, prompt-wrapper
    robustness, and persistence after a fine-tuning attack."""
    from oml_core.fingerprint.attacks import FinetuneAttack
    from oml_core.fingerprint.evaluate import EvaluationConfig
    from oml_core.fingerprint.evaluate import evaluate as run_evaluation
    from oml_core.model.loading import load_model

    fps = _load(fingerprints, passphrase)
    loaded_model, tokenizer = load_model(model)
    base_model = load_model(base)[0] if base else None
    report = run_evaluation(loaded_model, tokenizer, fps, base_model,
                            EvaluationConfig(batch_size=batch_size, ppl_texts=ppl_texts, progress=True,
                                             attack=FinetuneAttack(attack_steps, attack_lr) if attack_steps else None))
    doc = report.to_json()
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2) + "\n")
    console.print_json(data=doc)


@fingerprint_app.command("encrypt")
@cli_errors
def encrypt(
    fingerprints: FILE,
    out: Annotated[Path, typer.Option(help="Encrypted output file.")],
    passphrase: PASSPHRASE = None,
) -> None:
    """Encrypt a plain JSONL fingerprint file (AES-256-GCM; scrypt passphrase or OML_FINGERPRINT_KEY)."""
    from oml_core.fingerprint.secrets_store import encrypt_fingerprints

    encrypt_fingerprints(_load(fingerprints, None), out, passphrase)
    console.print(f"encrypted -> {out}", markup=False, soft_wrap=True)


@fingerprint_app.command("decrypt")
@cli_errors
def decrypt(
    fingerprints: FILE,
    out: Annotated[Path, typer.Option(help="Plain JSONL output (a secret: keep it private).")],
    passphrase: PASSPHRASE = None,
) -> None:
    """Decrypt an encrypted fingerprint file to plain JSONL."""
    from oml_core.fingerprint.record import write_jsonl
    from oml_core.fingerprint.secrets_store import decrypt_fingerprints

    write_jsonl(out, decrypt_fingerprints(fingerprints, passphrase))
    out.chmod(0o600)
    console.print(f"decrypted -> {out}", markup=False, soft_wrap=True)


@fingerprint_app.command("inject")
@cli_errors
def inject_command(
    file: FILE,
    out: Annotated[Path, typer.Option(help="Run directory: checkpoints, config, and the trained model in model/.")],
    model: MODEL = "smollm2",
    config: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                help="InjectConfig as JSON (see oml_core/fingerprint/inject/config.py).")] = None,
    epochs: Annotated[int | None, typer.Option(min=1)] = None,
    lr: Annotated[float | None, typer.Option()] = None,
    mix_share: Annotated[float | None, typer.Option(help="Share β of benign samples per batch.")] = None,
    avg_lambda: Annotated[float | None, typer.Option(help="Averaging toward the base weights, λ.")] = None,
    wrapper_share: Annotated[float | None, typer.Option(help="Share of keys wrapped in system prompts.")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint in --out.")] = False,
    passphrase: PASSPHRASE = None,
) -> None:
    """Train the fingerprints into a model (SFT on response tokens), then check them.

    Several GPUs: `accelerate launch --num_processes N $(which oml) fingerprint inject ...`.
    """
    import dataclasses

    from oml_core.fingerprint.check import accuracy, check_local
    from oml_core.fingerprint.inject import InjectConfig, inject
    from oml_core.fingerprint.inject.parallel import current_ranks
    from oml_core.model.loading import load_model

    fps = _load(file, passphrase)
    try:
        cfg = InjectConfig.load(config) if config else InjectConfig()
        overrides = {k: v for k, v in {"epochs": epochs, "lr": lr, "mix_share": mix_share,
                                       "avg_lambda": avg_lambda, "wrapper_share": wrapper_share,
                                       "seed": seed}.items() if v is not None}
        cfg = dataclasses.replace(cfg, **overrides)
    except (ValueError, TypeError, KeyError) as exc:
        raise fail(f"bad injection config: {exc}") from None
    ranks = current_ranks()  # several when started by `accelerate launch`: one replica per device
    net, tokenizer = load_model(model, device=ranks.device)
    result = inject(net, tokenizer, fps, cfg, output_dir=out, resume=resume, ranks=ranks)
    if not ranks.main:
        return
    if not result.finished:
        console.print(f"stopped at step {result.steps}/{result.total_steps}; run again with --resume")
        return
    target = out / "model"
    result.model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    found = accuracy(check_local(result.model, tokenizer, fps))
    console.print(f"{result.steps} steps, {result.seconds_per_step:.2f} s/step; "
                  f"fingerprint accuracy {found:.0%}; model saved to {target}")
