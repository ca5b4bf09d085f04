"""`make bench-gas`: gas of the protocol's hot calls, measured as real transactions on anvil.

For each call it reports the transaction's gasUsed and its execution gas (gasUsed less the
intrinsic 21,000 and the calldata charge), which is what `forge test --gas-report` measures.
Each target of the foundation issue is checked against both figures; the baseline measured in
the same run is a plain ETH transfer (21,000 by the protocol's rules, so any drift in the node shows).
Results are appended to docs/BENCHMARKS.md with the date and the machine.
"""
from __future__ import annotations

import datetime as dt
import platform
import secrets
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from rich.console import Console
from rich.table import Table

from oml_core import typed_data as td
from oml_core.chain.anvil import AnvilNode, advance_time
from oml_core.chain.client import connect
from oml_core.chain.deployment import VerifierParams, deploy
from oml_core.contracts import ClaimInput, OMLContracts
from oml_core.demo import DEMO_TERMS, ETH, stand_in_fingerprints
from oml_core.merkle import MerkleTree

# Issue 13's ceilings (receipts, time-bound σ, stake quorum and slash reservations included).
TARGETS = {"open claim (3-of-4 quorum)": 170_000, "open observed claim (3-of-4 quorum)": 170_000,
           "refute": 70_000, "execute slash": 80_000, "settle voucher": 80_000}
REPORT = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


@dataclass(frozen=True)
class GasFigure:
    call: str
    tx_gas: int
    execution_gas: int

    @property
    def target(self) -> int | None:
        return TARGETS.get(self.call)


def calldata_gas(data: bytes) -> int:
    """EIP-2028 calldata charge: 4 per zero byte, 16 per other byte."""
    return sum(4 if b == 0 else 16 for b in data)


def _figure(w3, call: str, receipt) -> GasFigure:
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    used = receipt["gasUsed"]
    return GasFigure(call, used, used - 21_000 - calldata_gas(bytes(tx["input"])))


def measure() -> list[GasFigure]:
    with AnvilNode() as node:
        w3 = connect(node.url)
        keys = node.private_keys
        admin, owner_b, host, claimant, relayer = keys[:5]
        verifiers = keys[5:9]
        signer = secrets.token_bytes(32)
        oml = OMLContracts(w3, deploy(w3, admin, VerifierParams(min_stake=ETH, unbonding_period=86400)))
        out: list[GasFigure] = []

        baseline = oml.sender(relayer).send_raw(
            {"to": Account.from_key(owner_b).address, "value": 1, "gas": 21_000, "chainId": w3.eth.chain_id,
             "nonce": w3.eth.get_transaction_count(Account.from_key(relayer).address),
             "gasPrice": w3.eth.gas_price}, "baseline transfer")
        out.append(_figure(w3, "baseline: plain ETH transfer", baseline))

        model_id = oml.register_model(admin, [Account.from_key(admin).address, Account.from_key(owner_b).address],
                                      [3, 1], Account.from_key(signer).address, DEMO_TERMS)
        for key in verifiers:
            oml.join_verifier(key, ETH)
        advance_time(w3, oml.verifiers.functions.config().call()[2])  # stake counts after the activation delay
        for key in verifiers:
            oml.activate_verifier(relayer, Account.from_key(key).address)
        _, _, terms_hash = oml.current_terms(model_id)
        receipt = oml.sender(host).send(oml.licenses.functions.acquireLicense(
            model_id, "https://host.example/v1", terms_hash, Account.from_key(host).address), value=20 * ETH)
        out.append(_figure(w3, "stake + acquire license", receipt))
        license_id = oml.event(oml.licenses, "LicenseAcquired", receipt)["licenseId"]
        fingerprints = stand_in_fingerprints(64)
        tree = MerkleTree([td.fingerprint_leaf(*f) for f in fingerprints])
        oml.set_fingerprint_commitment(admin, license_id, tree.root, b"\1" * 32)
        oml.deposit_escrow(host, license_id, ETH)

        for n, label in ((10, "settle voucher (first for the license)"), (20, "settle voucher"),
                         (1_500, "settle voucher beyond the escrow (stake pays the rest)")):
            voucher = td.UsageVoucher(license_id, n, n * DEMO_TERMS.price_per_query, secrets.token_bytes(32))
            out.append(_figure(w3, label, oml.settle(relayer, voucher, oml.sign_voucher(signer, voucher))))

        served_at = oml.license_start(license_id)
        advance_time(w3, oml.claim_config()[0])  # claims open a clock skew after their answer

        def claim(i: int):
            q, r, salt = fingerprints[i]
            answer = td.AnswerReceipt(license_id, q, secrets.token_bytes(32), served_at, td.NO_PERMISSION)
            c = ClaimInput.unpermitted_use(answer, td.sign_typed(answer, oml.receipt_domain, bytes.fromhex(host[2:])),
                                           r, salt, tree.proof(td.fingerprint_leaf(q, r, salt)),
                                           secrets.token_bytes(32))
            sigs = {Account.from_key(k).address: oml.attest(bytes.fromhex(k[2:]), c, Account.from_key(claimant).address)
                    for k in verifiers[:3]}
            return oml.open_claim(claimant, c, sigs, DEMO_TERMS.claim_bond)

        first = claim(0)
        out.append(_figure(w3, "open claim (first against the license)",
                           w3.eth.get_transaction_receipt(first.tx_hash)))
        typical = claim(1)
        out.append(_figure(w3, "open claim (3-of-4 quorum)", w3.eth.get_transaction_receipt(typical.tx_hash)))
        permission = td.Permission(license_id, fingerprints[0][0], 1, served_at)  # issued before the answer
        out.append(_figure(w3, "refute", oml.refute(host, first, permission, oml.sign_permission(signer, permission))))
        second = claim(2)
        oml.sender(host).send(oml.licenses.functions.addStake(license_id), value=20 * ETH)  # room for one more
        q, r, salt = fingerprints[3]  # a host that gave no receipt, seen by the quorum itself
        observed = ClaimInput.observed_use(license_id, q, r, salt, tree.proof(td.fingerprint_leaf(q, r, salt)),
                                           secrets.token_bytes(32), served_at)
        sigs = {Account.from_key(k).address: oml.attest(bytes.fromhex(k[2:]), observed,
                                                         Account.from_key(claimant).address) for k in verifiers[:3]}
        opened = oml.open_claim(claimant, observed, sigs, DEMO_TERMS.claim_bond)
        out.append(_figure(w3, "open observed claim (3-of-4 quorum)", w3.eth.get_transaction_receipt(opened.tx_hash)))
        advance_time(w3, DEMO_TERMS.challenge_window + 1)
        oml.execute(relayer, oml.opened_claim(typical.claim_id))  # the model already has revenue after settle
        oml.execute(relayer, opened)
        out.append(_figure(w3, "execute slash", oml.execute(relayer, second)))
        out.append(_figure(w3, "owner withdraw revenue", oml.sender(admin).send(
            oml.usage.functions.withdrawRevenue(model_id))))

        oml.request_exit(host, license_id)
        closure = td.UsageClosure(license_id, oml.usage_account(license_id)[0])
        out.append(_figure(w3, "close usage account (exit)", oml.close_usage(relayer, closure,
                                                                             oml.sign_closure(signer, closure))))
        advance_time(w3, DEMO_TERMS.unbonding_period + 1)
        out.append(_figure(w3, "withdraw stake (exit)", oml.sender(host).send(
            oml.licenses.functions.withdraw(license_id))))
        return out


def _within(gas: int, target: int | None) -> str:
    return "" if not target else ("yes" if gas <= target else "no")


def render(figures: list[GasFigure]) -> str:
    rows = ["| call | tx gasUsed | execution gas | target | tx within | execution within |",
            "|---|---:|---:|---:|:-:|:-:|"]
    for f in figures:
        target = f"{f.target:,}" if f.target else ""
        rows.append(f"| {f.call} | {f.tx_gas:,} | {f.execution_gas:,} | {target} | "
                    f"{_within(f.tx_gas, f.target)} | {_within(f.execution_gas, f.target)} |")
    return "\n".join(rows)


def record(figures: list[GasFigure]) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {platform.system()}, anvil from package-lock.json, solc 0.8.28 optimizer 200"
    section = (f"\n## Gas (`make bench-gas`), {stamp}\n\nMachine: {machine}.\n\n{render(figures)}\n\n"
               "Execution gas = gasUsed − 21,000 − calldata charge (what `forge test --gas-report` shows).\n")
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n\nEach section is one run of one command.\n"
    REPORT.write_text(text + section)


def main() -> None:
    console = Console()
    with console.status("measuring gas on a fresh anvil…"):
        figures = measure()
    table = Table(title="OML gas")
    for col in ("call", "tx gasUsed", "execution gas", "× baseline tx", "target", "tx within", "exec within"):
        table.add_column(col, justify="left" if col == "call" else "right")
    base = figures[0].tx_gas
    for f in figures:
        table.add_row(f.call, f"{f.tx_gas:,}", f"{f.execution_gas:,}", f"{f.tx_gas / base:.2f}",
                      f"{f.target:,}" if f.target else "", _within(f.tx_gas, f.target),
                      _within(f.execution_gas, f.target))
    console.print(table)
    record(figures)
    console.print(f"recorded in {REPORT}")


if __name__ == "__main__":
    main()
