"""docker-compose.yml describes a topology that can start: no Docker engine runs here, so the file's
structure is checked instead (services, dependencies, and that every `oml ...` command and option
it runs exists in the CLI)."""
import re
import shlex
from pathlib import Path

import pytest
import typer.main
import yaml

from oml_core.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _oml_invocations(command) -> list[list[str]]:
    """Each `oml ...` call in a service's command (a list, or `sh -c` with `&&` and `exec`)."""
    text = command[-1] if command[:2] == ["sh", "-c"] else shlex.join(command)
    calls = []
    for part in re.split(r"&&|;", text):
        words = shlex.split(part)
        words = words[1:] if words and words[0] == "exec" else words
        if words and words[0].endswith("/oml"):
            calls.append(words[1:])
    return calls


def _resolve(words: list[str]):
    command = typer.main.get_command(app)
    while hasattr(command, "commands"):  # a group (typer may ship its own click)
        name, words = words[0], words[1:]
        assert name in command.commands, f"`oml ... {name}` does not exist"
        command = command.commands[name]
    return command, words


def test_services_and_dependencies_are_consistent():
    compose = _compose()
    services = compose["services"]
    assert {"anvil", "deploy", "postgres", "permission", "owner", "prover"} <= set(services)
    assert sum(name.startswith("verifier-") for name in services) >= 3
    assert sum(name.startswith("host-") for name in services) >= 2
    for name, service in services.items():
        assert "image" in service, f"{name} has no image"
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source == "." or source in compose.get("volumes", {}), f"{name}: unknown volume {source}"


def test_deploy_reaches_anvil_and_runs_the_real_cli():
    compose = _compose()
    deploy = compose["services"]["deploy"]
    assert deploy["depends_on"]["anvil"]["condition"] == "service_healthy"
    assert deploy["environment"]["OML_RPC_URL"] == "http://anvil:8545"
    assert "oml deploy" in deploy["command"][-1]
    anvil_command = compose["services"]["anvil"]["command"][-1]
    assert "node_modules/.bin/anvil" in anvil_command and "--port 8545" in anvil_command
    assert (ROOT / "package-lock.json").exists() and (ROOT / "constraints.txt").exists()


@pytest.mark.parametrize("name", [n for n in _compose()["services"] if n not in ("anvil", "deploy", "postgres")])
def test_every_oml_command_and_option_exists(name):
    calls = _oml_invocations(_compose()["services"][name]["command"])
    assert calls, f"{name} runs no oml command"
    for words in calls:
        command, rest = _resolve(words)
        known = {opt for param in command.params for opt in param.opts}
        used = {w for w in rest if w.startswith("--")}
        assert used <= known, f"{name}: `oml {' '.join(words[:2])}` has no {sorted(used - known)}"
        required = {p.opts[0] for p in command.params if p.required and p.opts[0].startswith("--")}
        assert required <= used, f"{name}: missing required {sorted(required - used)}"


def test_the_permission_service_runs_on_postgres_with_replicas():
    permission = _compose()["services"]["permission"]
    assert permission["environment"]["OML_PERMISSION_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert permission["deploy"]["replicas"] >= 2
    assert permission["depends_on"]["postgres"]["condition"] == "service_healthy"
