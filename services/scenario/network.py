"""Bring a local OML network up on a LocalChain: licenses, one OMLized copy per license, the
community's services, downloads, and the hosts' gateways. Shared by `oml demo` and `oml up`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console

from oml_core.chain.anvil import free_port
from oml_core.fingerprint.evaluate import perplexity
from services.common.process import ServiceProcess
from services.distribution.publish import commit_license_model
from services.scenario import topology
from services.scenario.owner import LicenseCopy, license_fingerprints, load_base, omlize_copy
from services.scenario.profiles import Profile
from services.stack import ETH, LocalChain, address_of

HOST_STAKE, HOST_ESCROW = 20 * ETH, ETH


@dataclass
class Network:
    licenses: dict[str, int] = field(default_factory=dict)        # host name -> license id
    host_keys: dict[str, str] = field(default_factory=dict)
    copies: dict[str, LicenseCopy] = field(default_factory=dict)
    permission: ServiceProcess | None = None
    downloads: ServiceProcess | None = None
    verifiers: list[ServiceProcess] = field(default_factory=list)
    hosts: dict[str, ServiceProcess] = field(default_factory=dict)


def bring_up(chain: LocalChain, prof: Profile, plans: list[topology.HostPlan], n_verifiers: int, seed: int,
             console: Console, step: Callable[[str, str], None], progress: bool = True) -> Network:
    net, oml, a = Network(), chain.oml, chain.accounts
    step("Hosts stake and acquire licenses", f"{HOST_STAKE // ETH} ETH stake and {HOST_ESCROW // ETH} ETH fee escrow each")
    ports = {plan.name: free_port() for plan in plans}
    for plan, key in zip(plans, a.hosts):
        license_id = oml.acquire_license(key, chain.model_id, topology.local_url(ports[plan.name]), HOST_STAKE)
        oml.deposit_escrow(key, license_id, HOST_ESCROW)
        net.licenses[plan.name], net.host_keys[plan.name] = license_id, key
        console.print(f"  {plan.name} host {address_of(key)}: license {license_id}")

    step("The owner OMLizes one copy per license",
         f"{prof.per_license} {prof.strategy} fingerprints each: injected, checked, root and weights hash on chain")
    base, tokenizer = load_base(prof)
    sets = license_fingerprints(prof, base, tokenizer, len(plans), seed)
    models_dir = chain.workdir / "owner-models"
    base_perplexity = perplexity(base, tokenizer)
    for (name, license_id), fps in zip(net.licenses.items(), sets):
        copy = omlize_copy(prof, base, tokenizer, license_id, fps, models_dir, base_perplexity, progress=progress)
        commit_license_model(oml, a.admin, license_id, copy.manifest)
        net.copies[name] = copy
        console.print(f"  license {license_id}: its copy answers {copy.accuracy:.0%} of its fingerprints, the base "
                      f"model {copy.base_false_positives:.0%}; held-out perplexity {copy.perplexity_change:+.1%}; "
                      f"root {copy.manifest.fingerprint_root[:18]}…")
    del base

    step("The community's services start", f"permission service, download service, {n_verifiers} verifiers")
    net.permission = topology.start_permission(chain)
    net.downloads = topology.start_owner_downloads(chain, models_dir)
    net.verifiers = topology.start_verifiers(chain, net.permission.url, n_verifiers)
    topology.wait_all([net.permission, net.downloads, *net.verifiers])
    console.print(f"  permission {net.permission.url}; downloads {net.downloads.url}; verifiers "
                  + ", ".join(v.url for v in net.verifiers))

    step("Hosts download their copies and start serving", "each download's weights hash is checked against the chain")
    from services.distribution.download import download_model

    for plan in plans:
        key, license_id = net.host_keys[plan.name], net.licenses[plan.name]
        directory = download_model(net.downloads.url, license_id, key, oml, chain.workdir / f"{plan.name}-model")
        net.hosts[plan.name] = topology.start_host(chain, key, license_id, directory, net.permission.url, plan,
                                                   ports[plan.name])
        cheat = f" [red](serves {plan.skip_permission_share:.0%} of its queries without σ)[/]" \
            if plan.skip_permission_share else ""
        console.print(f"  {plan.name}: {directory} verified; serving at {net.hosts[plan.name].url}{cheat}")
    topology.wait_all(list(net.hosts.values()), timeout=300)
    return net
