"""Launch the services of a local OML network as processes around a LocalChain.

Every launcher returns a started (not yet healthy) ServiceProcess that the chain stops on exit;
`wait_healthy` them all once, so slow starters (hosts load models) come up side by side.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oml_core.chain.anvil import free_port
from services.common.process import ServiceProcess
from services.stack import LocalChain, address_of


@dataclass(frozen=True)
class HostPlan:
    """How one host behaves: honest, or cheating on σ (and the attack knobs of services/host)."""

    name: str
    skip_permission_share: float = 0.0
    system_prompt: str | None = None
    refuse_key_like: bool = False
    seed: int = 0


def local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def start_permission(chain: LocalChain) -> ServiceProcess:
    return chain.permission_service().start(wait=False)


def start_owner_downloads(chain: LocalChain, models_dir: Path, port: int | None = None) -> ServiceProcess:
    port = port or free_port()
    return chain.service("owner", ["owner", "serve", "--models-dir", str(models_dir), "--deployment",
                                   str(chain.deployment_path), "--port", str(port)],
                         local_url(port)).start(wait=False)


def start_host(chain: LocalChain, host_key: str, license_id: int, model_dir: Path, permission_url: str,
               plan: HostPlan, port: int) -> ServiceProcess:
    args = ["host", "serve", "--model", str(model_dir), "--license-id", str(license_id),
            "--permission-url", permission_url, "--deployment", str(chain.deployment_path),
            "--port", str(port), "--database-url", f"sqlite:///{chain.workdir}/host-{plan.name}.db",
            "--log-level", "warning"]
    if plan.skip_permission_share:
        args += ["--skip-permission-share", str(plan.skip_permission_share), "--seed", str(plan.seed)]
    if plan.system_prompt:
        args += ["--system-prompt", plan.system_prompt]
    if plan.refuse_key_like:
        args.append("--refuse-key-like")
    return chain.service(f"host-{plan.name}", args, local_url(port),
                         {"OML_HOST_KEY": host_key}).start(wait=False)


def start_verifiers(chain: LocalChain, permission_url: str, count: int) -> list[ServiceProcess]:
    """`count` verifier processes (the first `count` staked verifier keys), each the others' peer;
    they accept transcripts from the chain's provers."""
    keys = chain.accounts.verifiers[:count]
    urls = [local_url(free_port()) for _ in keys]
    provers = [address_of(k) for k in chain.accounts.provers]
    processes = []
    for index, (key, url) in enumerate(zip(keys, urls)):
        args = ["verifier", "run", "--deployment", str(chain.deployment_path), "--permission-url", permission_url,
                "--port", url.rsplit(":", 1)[1], "--database-url", f"sqlite:///{chain.workdir}/verifier-{index}.db",
                "--log-level", "warning"]
        for peer in urls:
            if peer != url:
                args += ["--peer", peer]
        for prover in provers:
            args += ["--prover", prover]
        processes.append(chain.service(f"verifier-{index}", args, url, {"OML_VERIFIER_KEY": key}).start(wait=False))
    return processes


def wait_all(processes: list[ServiceProcess], timeout: float = 180.0) -> None:
    for process in processes:
        process.wait_healthy(timeout)
