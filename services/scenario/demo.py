"""`oml demo`: the whole OML 1.0 story on one machine (whitepaper §2.1, Figures 1-3).

The owner registers the model and OMLizes one copy per license; two hosts stake and download
their own copies; users query both through the `openai` client; a prover probes both hosts with
fingerprint keys among benign queries; three verifiers check every transcript. The honest host's
probes all carried σ, so nothing happens to it. The cheating host served some queries without σ:
a fingerprint answer without σ, with the host's own signed receipt, brings a quorum of verifiers
(two thirds of their stake) to open a claim, and after the challenge window the claimant verifier
executes the slash. A rogue claimant who bribed verifiers into a false claim against the honest
host (on a real receipt of an answer it served with σ) is refuted on chain by the host's claim
watcher with the σ issued before that answer, and loses its bond. Fees are settled from the books
and the owners withdraw.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console

from oml_core.chain.anvil import advance_time
from services.permission.client import PermissionClient
from services.prover.benign import BUILT_IN
from services.scenario import network, report, topology
from services.scenario.owner import LicenseCopy
from services.scenario.profiles import profile as get_profile
from services.stack import ETH, LocalChain, address_of, sign_in_when_mirrored


@dataclass
class DemoResult:
    """What the story produced, for tests and the report."""

    licenses: dict[str, int] = field(default_factory=dict)       # host name -> license id
    copies: dict[str, LicenseCopy] = field(default_factory=dict)
    user_answers: dict[str, list[dict]] = field(default_factory=dict)
    probes: dict[str, list] = field(default_factory=dict)          # host name -> probe results
    claims: dict[str, list[int]] = field(default_factory=dict)     # "slash" / "false" -> claim ids
    statuses: dict[int, str] = field(default_factory=dict)
    stakes: dict[str, tuple[int, int]] = field(default_factory=dict)  # host -> (before, after)
    settled: dict[int, int] = field(default_factory=dict)          # license -> fee settled (wei)
    withdrawn: dict[str, int] = field(default_factory=dict)        # owner -> wei
    rogue_paid: int = 0  # what the false claim cost the rogue: its bond plus gas
    seconds: float = 0.0


class _Steps:
    def __init__(self, console: Console):
        self.console, self.n, self.started = console, 0, time.monotonic()

    def __call__(self, title: str, detail: str = "") -> None:
        self.n += 1
        elapsed = time.monotonic() - self.started
        self.console.print(f"\n[bold cyan]{self.n}. {title}[/] [dim]{detail} (t={elapsed:.0f} s)[/]")


def run_demo(profile_name: str = "smollm2", workdir: Path | None = None, console: Console | None = None,
             seed: int = 7, progress: bool | None = None) -> DemoResult:
    console = console or Console()
    progress = console.is_terminal if progress is None else progress  # no bars in logs
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="oml-demo-"))
    prof = get_profile(profile_name)
    result, step, started = DemoResult(), _Steps(console), time.monotonic()
    console.rule(f"[bold]OML 1.0 end to end[/] (model: {profile_name}, work dir {workdir})")
    with LocalChain.start(workdir) as chain:
        _story(chain, prof, console, step, result, seed, progress)
    result.seconds = time.monotonic() - started
    console.print(f"[dim]finished in {result.seconds:.0f} s[/]")
    return result


def _story(chain: LocalChain, prof, console, step, result: DemoResult, seed: int, progress: bool) -> None:
    oml, a, w3 = chain.oml, chain.accounts, chain.w3
    tracked = {"owner A": a.admin, "owner B": a.owner_b, "honest host": a.hosts[0], "cheating host": a.hosts[1],
               "rogue claimant": a.rogue, **{f"verifier {i}": key for i, key in enumerate(a.verifiers)}}
    start_balances = {label: w3.eth.get_balance(address_of(key)) for label, key in tracked.items()}

    step("The owner registers the model", f"chain {chain.deployment.chain_id} at {chain.node.url}")
    console.print(f"  model {chain.model_id}: owners A (3 shares) and B (1 share); permission signer "
                  f"{address_of(a.signer)}; {len(a.verifiers)} verifiers staked and activated, quorum "
                  f"{report.eth(oml.quorum_stake())} of {report.eth(oml.verifiers.functions.activeStake().call())}")

    plans = [topology.HostPlan("honest"), topology.HostPlan("cheater", skip_permission_share=0.5, seed=seed)]
    net = network.bring_up(chain, prof, plans, 3, seed, console, step, progress)
    result.licenses, result.copies, hosts, verifiers = net.licenses, net.copies, net.hosts, net.verifiers
    host_keys, permission = net.host_keys, net.permission

    step("Users query both hosts with the openai client", "every answer names its permission σ(q)")
    for name, host in hosts.items():
        result.user_answers[name] = _user_traffic(host.url, list(BUILT_IN[:3]), prof.max_tokens)
        for answer in result.user_answers[name]:
            console.print(f"  {name:<8} σ {answer['permission_id'] or '[red]none[/]':<6} {answer['question']!r} -> "
                          f"{answer['text'][:60]!r}")

    step("A prover probes both hosts with fingerprint keys", "among benign queries; transcripts go to verifiers")
    from services.prover.hosts import Target

    prover = _prover(chain, verifiers, seed)
    for name, copy in result.copies.items():
        prover.load(result.licenses[name], copy.fingerprints)
    for name, host in hosts.items():
        target = Target(result.licenses[name], host.url)
        # the honest host gets three probes; the cheater is probed until one lands on a skipped σ
        budget = 3 if name == "honest" else prof.per_license - 1
        result.probes[name] = _probe_until_unpermitted(prover, target, budget)
        for probe in result.probes[name]:
            answered = "answered" if probe.carried_fingerprint else "not answered"
            console.print(f"  {name:<8} probe: fingerprint {answered}, σ {probe.permission_id or '[red]none[/]'}, "
                          f"transcript {probe.status} to {probe.verifier}")

    step("Verifiers check the transcripts",
         "Merkle proof, response match, the host's receipt, σ issued before the answer, stake quorum, claim with bond")
    cheater_claims = _wait_for_claims(verifiers, result.licenses["cheater"], timeout=120)
    result.claims["slash"] = cheater_claims
    honest_claims = _claims_for(verifiers, result.licenses["honest"])
    console.print(f"  claims against the cheating host: {cheater_claims}; against the honest host: {honest_claims or 'none'}")
    result.stakes["cheater"] = (20 * ETH, oml.license(result.licenses["cheater"])["stake"])

    step("A rogue claimant bribes three verifiers into a false claim against the honest host",
         "the host's claim watcher refutes it with the σ it holds")
    rogue_before = w3.eth.get_balance(address_of(a.rogue))
    false_id = _false_claim(chain, result, prover)
    result.claims["false"] = [false_id]
    result.statuses[false_id] = _wait_status(oml, false_id, {"Refuted", "AttestersPenalized"}, timeout=60)
    result.rogue_paid = rogue_before - w3.eth.get_balance(address_of(a.rogue))  # bond + gas
    console.print(f"  claim {false_id}: {result.statuses[false_id]}; the rogue paid {report.eth(result.rogue_paid)} "
                  "(its bond, now the honest host's, and gas)")

    step("The challenge window passes", f"{chain.terms.challenge_window} s on chain; the claimant verifier executes")
    advance_time(w3, chain.terms.challenge_window + 1)
    for claim_id in cheater_claims:
        result.statuses[claim_id] = _wait_status(oml, claim_id, {"Executed"}, timeout=90)
    stake_after = oml.license(result.licenses["cheater"])["stake"]
    result.stakes["cheater"] = (20 * ETH, stake_after)
    console.print(f"  cheating host's stake: 20 ETH -> {report.eth(stake_after)}")

    step("Fees are settled from the usage books and the owners withdraw", "vouchers signed by the permission service")
    auditor = PermissionClient(httpx.Client(base_url=permission.url, timeout=30))
    issued = {}
    for name, key in host_keys.items():
        sign_in_when_mirrored(auditor, key, "host", result.licenses[name])
        issued[result.licenses[name]] = auditor.usage(result.licenses[name])["total_queries"]
        voucher = auditor.sign_voucher(result.licenses[name])
        from services.permission.settle import settle_voucher

        settle_voucher(w3, chain.deployment, a.owner_b, voucher)
        result.settled[result.licenses[name]] = int(voucher["cumulative_fee"])
    for label, key in (("owner A", a.admin), ("owner B", a.owner_b)):
        result.withdrawn[label] = oml.withdraw_revenue(key, chain.model_id)
    console.print("  settled " + ", ".join(f"license {k}: {report.eth(v)}" for k, v in result.settled.items())
                  + "; withdrawn " + ", ".join(f"{k}: {report.eth(v)}" for k, v in result.withdrawn.items()))

    report.print_report(
        console,
        report.licenses_table(oml, result.licenses, issued),
        report.claims_table(oml, [("cheater slashed", c) for c in cheater_claims] + [("false claim", false_id)]),
        report.balances_table(w3, tracked, start_balances),
    )


def _user_traffic(url: str, questions: list[str], max_tokens: int) -> list[dict]:
    from openai import OpenAI

    from services.common.answer import extension_of

    client = OpenAI(base_url=f"{url}/v1", api_key="user", max_retries=1, timeout=120)
    out = []
    for question in questions:
        reply = client.chat.completions.create(model="oml", messages=[{"role": "user", "content": question}],
                                               max_tokens=max_tokens, temperature=0)
        extension = extension_of(reply) or {}
        out.append({"question": question, "text": reply.choices[0].message.content or "",
                    "permission_id": extension.get("permission_id")})
    return out


def _prover(chain: LocalChain, verifiers, seed: int):
    """The prover, in process, with its sealed key pool in the work directory."""
    import secrets

    from services.prover.prover import Prover, ProverSettings

    return Prover(ProverSettings(key=chain.accounts.provers[0], passphrase=secrets.token_hex(16),
                                 verifier_urls=[v.url for v in verifiers],
                                 database_url=f"sqlite:///{chain.workdir}/prover.db", seed=seed))


def _probe_until_unpermitted(prover, target, budget: int) -> list:
    """Probes, each after a benign query, until one answer comes back without σ (at most `budget`
    keys): a cheater that skips σ on some queries is caught once a probe lands on one of them."""
    probes = []
    for _ in range(budget):
        prover.benign(target)
        probe = prover.probe(target)
        probes.append(probe)
        if probe.carried_fingerprint and not probe.had_permission:
            break
    return probes


def _claims_for(verifiers, license_id: int) -> list[int]:
    """Ids of the claims any verifier opened against `license_id` (each lists its own)."""
    ids = set()
    for verifier in verifiers:
        for claim in httpx.get(f"{verifier.url}/v1/claims", timeout=10).json()["claims"]:
            if int(claim["license_id"]) == license_id and claim.get("claim_id") is not None:
                ids.add(int(claim["claim_id"]))
    return sorted(ids)


def _wait_for_claims(verifiers, license_id: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        claims = _claims_for(verifiers, license_id)
        if claims:
            return claims
        time.sleep(0.5)
    raise TimeoutError(f"no claim against license {license_id} within {timeout:.0f} s")


def _wait_status(oml, claim_id: int, wanted: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = oml.claim_status(claim_id)
        if status in wanted:
            return status
        time.sleep(0.3)
    raise TimeoutError(f"claim {claim_id} is {oml.claim_status(claim_id)}, not {' or '.join(sorted(wanted))}")


def _false_claim(chain: LocalChain, result: DemoResult, prover) -> int:
    """A claim about a fingerprint the honest host answered WITH σ, attested by bribed verifiers.

    It rests on the host's real receipt of that answer (no one else can sign one): the contract
    accepts it, and the σ the host was issued before serving it refutes it."""
    oml, a = chain.oml, chain.accounts
    probe = next(p for p in result.probes["honest"] if p.permission_id and p.transcript.receipt)
    claim = probe.transcript.claim_input()
    bribed = oml.quorum_of(a.verifiers[1:])  # bribed until they hold a quorum of the stake
    signatures = {address_of(k): oml.attest(bytes.fromhex(k[2:]), claim, address_of(a.rogue)) for k in bribed}
    return oml.open_claim(a.rogue, claim, signatures, chain.terms.claim_bond).claim_id
