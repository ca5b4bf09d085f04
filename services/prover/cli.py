"""`oml prover ...`: load a license's keys, run the probing daemon, show what it has done.

The prover database (OML_PROVER_DATABASE_URL) is sealed with OML_PROVER_PASSPHRASE; the prover's
Ethereum key comes from OML_PROVER_KEY. Heavy imports stay inside the commands."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from oml_core.cli.common import cli_errors, console, fail

app = typer.Typer(help="Prover: probe hosts with secret fingerprint keys among ordinary queries.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

DatabaseOption = Annotated[str | None, typer.Option(
    envvar="OML_PROVER_DATABASE_URL", help="SQLAlchemy URL (default sqlite:///oml-prover.db).")]


def _settings(**overrides):
    from pydantic import ValidationError

    from services.prover.config import ProverSettings

    try:
        return ProverSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise fail(f"bad prover settings: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None


def _prover(settings):
    from services.prover.errors import ProverError
    from services.prover.prover import Prover

    try:
        return Prover(settings)
    except ProverError as exc:
        raise fail(str(exc)) from None


@app.command("load")
@cli_errors
def load(
    license_id: Annotated[int, typer.Option(min=0, help="License the fingerprints belong to.")],
    fingerprints: Annotated[Path, typer.Option(
        exists=True, dir_okay=False, help="The owner's fingerprint file (JSONL, plain or encrypted).")],
    commitment: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False,
        help="The license's full commitment JSON, when FILE holds only some of its fingerprints "
             "(default: FILE is the full set).")] = None,
    root: Annotated[str | None, typer.Option(help="Expected fingerprint root (0x hex).")] = None,
    deployment: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False,
        help="Deployment JSON: check the root against the license on chain.")] = None,
    rpc_url: Annotated[str | None, typer.Option(
        envvar="OML_RPC_URL", help="JSON-RPC node (default: the deployment's).")] = None,
    passphrase_env: Annotated[str, typer.Option(
        help="Environment variable holding the passphrase of an encrypted FILE.",
    )] = "OML_FINGERPRINT_PASSPHRASE",
    database_url: DatabaseOption = None,
) -> None:
    """Seal a license's fingerprint keys into the prover database (idempotent)."""
    from oml_core.fingerprint.commit import Commitment
    from oml_core.fingerprint.secrets_store import SecretsError, load_fingerprints
    from services.prover.chain import license_root
    from services.prover.errors import ProverError

    if root and deployment:
        raise fail("give --root or --deployment, not both")
    try:
        fps = load_fingerprints(fingerprints, os.environ.get(passphrase_env))
        full = Commitment.from_json(json.loads(commitment.read_text())) if commitment else None
        expected = bytes.fromhex(root.removeprefix("0x")) if root else None
    except (SecretsError, ValueError, KeyError) as exc:
        raise fail(str(exc)) from None
    with _prover(_settings(database_url=database_url)) as prover:
        try:
            if deployment:
                expected = license_root(deployment, license_id, rpc_url)
            result = prover.load(license_id, fps, full, expected)
        except ProverError as exc:
            raise fail(str(exc)) from None
        left = prover.keys.remaining(license_id)
    console.print(f"license {license_id}: {result.added} key(s) added, "
                  f"{result.already_loaded} already loaded, {left} unused; root 0x{result.root.hex()}",
                  markup=False, soft_wrap=True)


@app.command("run")
@cli_errors
def run(
    target: Annotated[list[str] | None, typer.Option(
        help="LICENSE_ID=URL of a host gateway (repeatable); overrides the chain's endpoint.")] = None,
    deployment: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, envvar="OML_DEPLOYMENT",
        help="Deployment JSON: probe every license with keys in the pool at the endpoint its host "
             "registered on chain (Active or Exiting licenses).")] = None,
    rpc_url: Annotated[str | None, typer.Option(
        envvar="OML_RPC_URL", help="JSON-RPC node (default: the deployment's).")] = None,
    verifier: Annotated[list[str] | None, typer.Option(
        help="Verifier base URL (repeatable; default OML_PROVER_VERIFIER_URLS).")] = None,
    probe_share: Annotated[float | None, typer.Option(help="Share of queries that are probes.")] = None,
    mean_interval: Annotated[float | None, typer.Option(help="Mean seconds between queries.")] = None,
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds (default: never).")] = None,
    max_queries: Annotated[int | None, typer.Option(min=1, help="Stop after this many queries.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the schedule and prompts.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name sent to the hosts.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Query the targets at random times, mixing probes into benign traffic; SIGTERM stops it."""
    import signal

    from services.prover.errors import ProverError
    from services.prover.hosts import Target

    settings = _settings(verifier_urls=verifier or None, probe_share=probe_share,
                         mean_interval_s=mean_interval, seed=seed, model=model, database_url=database_url)
    if settings.key is None:
        raise fail("set OML_PROVER_KEY: the prover's key signs the transcripts it hands to verifiers")
    if not settings.verifier_urls:
        raise fail("give --verifier URL (or OML_PROVER_VERIFIER_URLS): probes need someone to judge them")
    try:
        explicit = {t.license_id: t for t in (Target.parse(text, settings.model) for text in target or [])}
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not explicit and deployment is None:
        raise fail("give --target LICENSE_ID=URL, or --deployment to take the hosts' endpoints from the chain")
    with _prover(settings) as prover:
        targets = list(explicit.values())
        if deployment is not None:
            from services.prover.chain import license_targets

            wanted = [i for i in prover.keys.licenses() if i not in explicit]
            targets += license_targets(deployment, wanted, rpc_url, settings.model)
        if not targets:
            raise fail("no license to probe: load keys first (oml prover load), or none of their "
                       "licenses can still be slashed")
        console.print("probing " + ", ".join(f"license {t.license_id} at {t.url}" for t in targets), markup=False)
        previous = signal.signal(signal.SIGTERM, lambda *_: prover.stop())
        try:
            summary = prover.run(targets, duration, max_queries)
        except ProverError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            summary = None
        finally:
            signal.signal(signal.SIGTERM, previous)
        pending = prover.flush().pending
    if summary is not None:
        console.print(f"sent {summary.probes} probe(s) and {summary.benign} benign quer(ies); "
                      f"{summary.host_errors} unanswered", markup=False)
    console.print(f"{pending} transcript(s) pending", markup=False)


@app.command("status")
@cli_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Keys left per license, queries sent, probe outcomes, transcripts pending (no passphrase needed)."""
    from dataclasses import asdict

    from rich.table import Table

    from services.prover.db import open_database
    from services.prover.status import read_status

    db = open_database(_settings(database_url=database_url).database_url)  # a fresh one reads as empty
    try:
        report = read_status(db)
    finally:
        db.dispose()
    if as_json:
        console.print_json(json.dumps(asdict(report)))
        return
    table = Table("license", "keys loaded", "keys left", "probes", "benign", "probes with σ",
                  "probes matched", "unanswered")
    for s in report.licenses:
        q = s.queries
        table.add_row(*map(str, (s.license_id, s.keys_loaded, s.keys_left, q.probes, q.benign,
                                 q.probes_with_permission, q.probes_matched, q.host_errors)))
    console.print(table)
    console.print(f"{report.pending_transcripts} transcript(s) pending", markup=False)
