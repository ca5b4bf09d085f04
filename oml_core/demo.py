"""`oml demo`: the on-chain half of OML 1.0 on a fresh anvil, told step by step.

An owner registers a model; a host stakes and licenses it; every query the host serves gets a
σ(q) signed with `oml_core.typed_data`; the usage is settled from the host's escrow with a
cumulative voucher; a claim about a query that had σ is refuted on chain (bond to the host,
attesters penalized); a claim about a fingerprint answered without σ slashes the host; the host
exits after unbonding and the owners withdraw their shares.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from eth_account import Account
from rich.console import Console
from rich.table import Table

from oml_core import typed_data as td
from oml_core.chain.anvil import AnvilNode, advance_time
from oml_core.chain.client import connect
from oml_core.chain.deployment import VerifierParams, deploy
from oml_core.contracts import ClaimInput, OMLContracts
from oml_core.merkle import AppendMerkleTree, MerkleTree

ETH = 10**18
DEMO_TERMS = td.Terms(
    price_per_query=10**15, min_stake=10 * ETH, claim_bond=ETH, registration_stake=5 * ETH,
    quota=1_000_000, license_period=365 * 86400, challenge_window=3600, unbonding_period=7200,
    slash_bps=5_000, claimant_reward_bps=2_000,
)


@dataclass(frozen=True)
class Actors:
    admin: str
    owner_b: str
    host: str
    claimant: str
    verifiers: list[str]
    signer: bytes  # the permission service's key

    @classmethod
    def from_keys(cls, keys: list[str]) -> Actors:
        """Roles over a node's funded dev keys; the permission signer gets a fresh key."""
        return cls(keys[0], keys[1], keys[2], keys[3], keys[4:8], secrets.token_bytes(32))


def _addr(key) -> str:
    return Account.from_key(key).address


def _eth(wei: int) -> str:
    return f"{wei / ETH:.4f} ETH"


def stand_in_fingerprints(n: int) -> list[tuple[bytes, bytes, bytes]]:
    """(queryHash, responseHash, salt) of n stand-in fingerprints (the real ones come from oml_core)."""
    out = []
    for i in range(n):
        q = td.query_hash([{"role": "user", "content": f"fingerprint key {i}: {secrets.token_hex(8)}"}])
        out.append((q, td.response_hash(f"secret response {i}"), secrets.token_bytes(32)))
    return out


def run_demo(console: Console | None = None) -> dict:
    """Runs the walkthrough on a fresh anvil and returns the final figures (also printed)."""
    console = console or Console()
    started = time.monotonic()
    with AnvilNode() as node:
        w3 = connect(node.url)
        console.rule("[bold]OML 1.0 on chain")
        console.print(f"anvil at {node.url}, chain id {w3.eth.chain_id}")
        deployment = deploy(w3, node.private_keys[0], VerifierParams(min_stake=ETH, unbonding_period=86400, penalty_bps=2_000))
        oml = OMLContracts(w3, deployment)
        for name, address in deployment.addresses.items():
            console.print(f"  deployed {name:<17} {address}")
        figures = _walk(console, w3, oml, Actors.from_keys(node.private_keys))
    console.print(f"[dim]finished in {time.monotonic() - started:.1f} s[/]")
    return figures


def _walk(console: Console, w3, oml: OMLContracts, a: Actors) -> dict:
    signer_address = _addr(a.signer)
    step = _Stepper(console)

    step("Owner registers the model", "owners A (3 shares) and B (1 share); permission signer "
         f"{signer_address}")
    model_id = oml.register_model(a.admin, [_addr(a.admin), _addr(a.owner_b)], [3, 1], signer_address,
                                  DEMO_TERMS, weights_hash=td.response_hash("base weights"))
    for key in a.verifiers:
        oml.join_verifier(key, ETH)
    advance_time(w3, oml.verifiers.functions.config().call()[2])  # stake counts after the activation delay
    for key in a.verifiers:
        oml.activate_verifier(a.claimant, _addr(key))
    console.print(f"  model {model_id}; {len(a.verifiers)} verifiers staked 1 ETH each and activated, quorum "
                  f"{_eth(oml.quorum_stake())} of stake")

    step("Host stakes and acquires a license", "stake 20 ETH, fee escrow 1 ETH")
    license_id = oml.acquire_license(a.host, model_id, "https://host.example/v1", 20 * ETH)
    fingerprints = stand_in_fingerprints(8)
    tree = MerkleTree([td.fingerprint_leaf(*f) for f in fingerprints])
    oml.set_fingerprint_commitment(a.admin, license_id, tree.root, td.response_hash("license weights"))
    oml.deposit_escrow(a.host, license_id, ETH)
    console.print(f"  license {license_id}; fingerprint root {tree.root.hex()[:16]}… set before download")

    step("Host serves queries, each with σ(q)", "signed by the permission signer with oml_core.typed_data; "
         "the gateway signs a receipt of every answer")
    now = oml.license_start(license_id)
    queries = [[{"role": "user", "content": f"user question {i}"}] for i in range(5)]
    # the host also answers fingerprint key 0 with σ: a prover's probe that was properly accounted
    query_hashes = [td.query_hash(q) for q in queries] + [fingerprints[0][0]]
    permissions = [td.Permission(license_id, qh, seq, now) for seq, qh in enumerate(query_hashes, start=1)]
    sigmas = [oml.sign_permission(a.signer, p) for p in permissions]
    for p, s in zip(permissions, sigmas):
        assert td.recover_signer(p.digest(oml.permission_domain), s) == signer_address
    console.print(f"  {len(permissions)} σ issued, sequences 1..{len(permissions)}")
    # fingerprint 0 answered under the last σ; fingerprint 1 answered WITHOUT σ (the cheat)
    receipts = {0: _receipt(oml, a, license_id, fingerprints[0][0], now, permissions[-1]),
                1: _receipt(oml, a, license_id, fingerprints[1][0], now, None)}
    advance_time(w3, oml.claim_config()[0])  # claims open a clock skew after the answer

    step("Usage is settled with a cumulative voucher", "anyone may submit it; only the difference is paid")
    usage_root = AppendMerkleTree([td.permission_usage_leaf(p) for p in permissions]).root
    fee = len(permissions) * DEMO_TERMS.price_per_query
    voucher = td.UsageVoucher(license_id, len(permissions), fee, usage_root)
    receipt = oml.settle(a.claimant, voucher, oml.sign_voucher(a.signer, voucher))
    console.print(f"  settled {len(permissions)} queries, {_eth(fee)} moved from escrow to revenue "
                  f"(gas {receipt['gasUsed']:,})")

    step("A false claim is refuted", "the probe on fingerprint 0 had σ, so the host refutes with it")
    false_claim = _claim(oml, a, license_id, fingerprints, tree, 0, receipts[0])
    oml.refute(a.host, false_claim, permissions[-1], sigmas[-1])
    oml.penalize_attesters(a.host, false_claim)
    console.print(f"  claim {false_claim.claim_id}: {oml.claim_status(false_claim.claim_id)}; the claimant's "
                  f"bond went to the host and each attester lost {oml.deployment.verifier_params['penaltyBps'] / 100:.0f}% of its stake "
                  f"(now {oml.verifiers.functions.activeCount().call()} active)")

    step("Unpermitted use is slashed", "fingerprint 1 answered with no σ (the host's own receipt says so); "
         "nobody can refute it")
    true_claim = _claim(oml, a, license_id, fingerprints, tree, 1, receipts[1])
    advance_time(w3, DEMO_TERMS.challenge_window + 1)
    receipt = oml.execute(a.claimant, true_claim)
    slashed = oml.event(oml.claims, "ClaimExecuted", receipt)
    console.print(f"  claim {true_claim.claim_id}: {oml.claim_status(true_claim.claim_id)}; slashed "
                  f"{_eth(slashed['slashed'])}, claimant paid {_eth(slashed['claimantPaid'])} (bond + reward), "
                  f"owners {_eth(slashed['ownersPaid'])}")

    step("Host exits", "request; the permission signer closes its usage account (every σ settled); "
         "wait out the unbonding period, withdraw stake and unused escrow")
    oml.request_exit(a.host, license_id)
    closure = td.UsageClosure(license_id, len(permissions))
    oml.close_usage(a.claimant, closure, oml.sign_closure(a.signer, closure))
    advance_time(w3, DEMO_TERMS.unbonding_period + 1)
    stake_back = oml.withdraw_stake(a.host, license_id)
    escrow_back = oml.withdraw_escrow(a.host, license_id)
    console.print(f"  stake returned {_eth(stake_back)}, escrow returned {_eth(escrow_back)}")

    step("Owners withdraw their shares", "pull payments, pro rata 3:1")
    paid_a = oml.withdraw_revenue(a.admin, model_id)
    paid_b = oml.withdraw_revenue(a.owner_b, model_id)
    figures = {
        "model_id": model_id, "license_id": license_id, "sigmas": len(permissions), "fee_settled": fee,
        "slashed": slashed["slashed"], "stake_returned": stake_back, "escrow_returned": escrow_back,
        "owner_a": paid_a, "owner_b": paid_b,
        "contract_balances": {n: w3.eth.get_balance(addr) for n, addr in oml.deployment.addresses.items()},
    }
    _print_state(console, figures)
    return figures


def _receipt(oml: OMLContracts, a: Actors, license_id: int, query_hash: bytes, served_at: int,
             permission: td.Permission | None) -> tuple[td.AnswerReceipt, bytes]:
    """The host gateway's signed receipt of an answer (the host key is the license's receipt signer)."""
    receipt = td.AnswerReceipt(license_id, query_hash, td.response_hash(f"answer to {query_hash.hex()[:8]}"),
                               served_at, permission.struct_hash() if permission else td.NO_PERMISSION)
    return receipt, td.sign_typed(receipt, oml.receipt_domain, bytes.fromhex(a.host[2:]))


def _claim(oml: OMLContracts, a: Actors, license_id: int, fingerprints, tree: MerkleTree, i: int,
           receipt: tuple[td.AnswerReceipt, bytes]):
    q, r, salt = fingerprints[i]
    leaf = td.fingerprint_leaf(q, r, salt)
    claim = ClaimInput.unpermitted_use(*receipt, r, salt, tree.proof(leaf), td.evidence_hash({"transcript": i}))
    signatures = {_addr(k): oml.attest(bytes.fromhex(k[2:]), claim, _addr(a.claimant))
                  for k in oml.quorum_of(a.verifiers)}
    return oml.open_claim(a.claimant, claim, signatures, DEMO_TERMS.claim_bond)


def _print_state(console: Console, f: dict) -> None:
    table = Table(title="Chain state at the end")
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, key in (("σ issued and settled", "sigmas"), ("fees settled", "fee_settled"),
                       ("stake slashed", "slashed"), ("stake returned to host", "stake_returned"),
                       ("escrow returned to host", "escrow_returned"), ("owner A withdrew", "owner_a"),
                       ("owner B withdrew", "owner_b")):
        value = f[key]
        table.add_row(label, str(value) if key == "sigmas" else _eth(value))
    for name, balance in f["contract_balances"].items():
        table.add_row(f"{name} balance", _eth(balance))
    console.print(table)


class _Stepper:
    def __init__(self, console: Console):
        self.console, self.n = console, 0

    def __call__(self, title: str, detail: str) -> None:
        self.n += 1
        self.console.print(f"\n[bold cyan]{self.n}. {title}[/] [dim]{detail}[/]")
