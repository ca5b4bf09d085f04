"""`oml up`: the local OML network, left running: anvil, the permission service, the owner's
download service, licensed hosts (honest), verifiers and a prover daemon that probes the hosts
among benign queries. Prints where everything listens; Ctrl-C stops it all."""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from services.scenario import network, topology
from services.scenario.profiles import profile as get_profile
from services.stack import LocalChain, address_of


def run_up(profile_name: str, workdir: Path, n_hosts: int, n_verifiers: int, seed: int, console: Console,
           stop: threading.Event | None = None, probe_interval_s: float = 20.0,
           ready: Callable[[LocalChain, network.Network], None] | None = None) -> None:
    """Runs until Ctrl-C / SIGTERM (or until `stop` is set); `ready` is called once all is up."""
    prof = get_profile(profile_name)
    stop = stop or _stop_on_signals()
    step = _printer(console)
    with LocalChain.start(Path(workdir), n_hosts=n_hosts, n_verifiers=max(4, n_verifiers)) as chain:
        plans = [topology.HostPlan(f"host-{i}") for i in range(n_hosts)]
        net = network.bring_up(chain, prof, plans, n_verifiers, seed, console, step)
        step("A prover starts probing", "fingerprint keys at random times among benign queries")
        prover = _start_prover(chain, net, seed, probe_interval_s)
        console.print(_endpoints(chain, net, prover))
        console.print("[bold green]OML network up[/] — Ctrl-C stops it. Logs: " + str(chain.workdir / "logs"))
        if ready:
            ready(chain, net)
        stop.wait()
        console.print("stopping…")


def _start_prover(chain: LocalChain, net: network.Network, seed: int, interval_s: float):
    import secrets

    from services.prover.prover import Prover, ProverSettings

    database_url = f"sqlite:///{chain.workdir}/prover.db"
    key, passphrase = chain.accounts.provers[0], secrets.token_hex(16)
    with Prover(ProverSettings(key=key, passphrase=passphrase, database_url=database_url, seed=seed)) as prover:
        for name, copy in net.copies.items():
            prover.load(net.licenses[name], copy.fingerprints)
    # The hosts are found the way a real prover finds them: the endpoints they registered on chain.
    args = ["prover", "run", "--seed", str(seed), "--mean-interval", str(interval_s),
            "--deployment", str(chain.deployment_path)]
    for verifier in net.verifiers:
        args += ["--verifier", verifier.url]
    return chain.service("prover", args, "", {"OML_PROVER_KEY": key, "OML_PROVER_DATABASE_URL": database_url,
                                              "OML_PROVER_PASSPHRASE": passphrase}, health_path="").start()


def _endpoints(chain: LocalChain, net: network.Network, prover) -> Table:
    table = Table(title="Local OML network")
    for column in ("service", "where", "notes"):
        table.add_column(column)
    table.add_row("anvil", chain.node.url, f"deployment {chain.deployment_path}")
    table.add_row("permission", net.permission.url, "σ(q), books, vouchers; OpenAPI at /docs")
    table.add_row("downloads", net.downloads.url, "licensed hosts fetch their M.oml")
    for name, host in net.hosts.items():
        table.add_row(name, host.url + "/v1", f"license {net.licenses[name]}, host {address_of(net.host_keys[name])}; "
                      "OpenAI-compatible")
    for index, verifier in enumerate(net.verifiers):
        table.add_row(f"verifier-{index}", verifier.url, "claims at /v1/claims")
    table.add_row("prover", f"pid {prover.process.pid}", f"log {prover.log_path}")
    return table


def _printer(console: Console):
    count = [0]

    def step(title: str, detail: str = "") -> None:
        count[0] += 1
        console.print(f"\n[bold cyan]{count[0]}. {title}[/] [dim]{detail}[/]")
    return step


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop
