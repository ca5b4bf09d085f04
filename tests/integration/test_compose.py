"""docker-compose.yml describes a topology that can start: no Docker engine runs here, so the file's
structure is checked instead (services, dependencies, and that what they run exists in the repo)."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_dependencies_are_consistent():
    compose = _compose()
    services = compose["services"]
    assert {"anvil", "deploy"} <= set(services)
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
