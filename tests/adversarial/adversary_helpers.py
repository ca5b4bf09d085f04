"""What the attack tests need besides the verifier and host test helpers: a tiny model that really
answers a fingerprint key, licenses over chosen fingerprints, a prover-like probe through the
openai client, attestations signed by any set of verifier keys, fresh funded accounts, and
`reverts`, which names the custom error a transaction must revert with."""
from __future__ import annotations

import secrets
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from verifier_helpers import License

from oml_core.chain.anvil import advance_time
from oml_core.chain.errors import TransactionFailed
from oml_core.contracts import ClaimInput, OpenedClaim
from oml_core.fingerprint.check import check_local
from oml_core.fingerprint.commit import commitment_tree, proof_for
from oml_core.fingerprint.inject import InjectConfig, inject
from oml_core.fingerprint.record import Fingerprint
from oml_core.model.loading import tiny_model
from services.common.answer import extension_of
from services.common.transcript import RevealedFingerprint, Transcript
from services.host.generation import Generator
from services.permission.client import PermissionClient
from services.stack import ETH, LocalChain, address_of, sign_in_when_mirrored, wait_for_escrow

# The one key the tiny copy is trained on (a plain sentence the random model learns quickly).
KEY, RESPONSE = "Builtin console compiler really factor.", "operations level"
PROBE_MAX_TOKENS = 8
ESCROW = ETH  # what LocalChain.add_license deposits


def fingerprinted_copy(directory: Path) -> Generator:
    """The tiny model with KEY -> RESPONSE injected by the owner's code, saved to `directory`
    (a gateway's settings need a model directory) and loaded as the gateway's generator."""
    model, tokenizer = tiny_model(seed=0, device="cpu")
    fingerprint = Fingerprint(KEY, RESPONSE)
    inject(model, tokenizer, [fingerprint], InjectConfig(epochs=30, lr=2e-2, batch_size=1, benign_pool=4),
           progress=False)
    assert check_local(model, tokenizer, [fingerprint])[0].matched, "the tiny copy must answer its key"
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return Generator(model, tokenizer)


def copy_fingerprints(tag: str, decoys: int = 2) -> list[Fingerprint]:
    """A license's fingerprints: the key the copy answers first (its own salt, so its own leaf),
    then keys it does not answer."""
    return [Fingerprint(KEY, RESPONSE)] + [Fingerprint(f"{tag} decoy {i} {secrets.token_hex(4)}", f"decoy {i}")
                                           for i in range(decoys)]


def register_license(chain: LocalChain, permission_url: str, host_key: str, fps: list[Fingerprint]) -> License:
    """A license of `host_key` committing `fps`, mirrored by the permission service and begun
    (one clock skew ago)."""
    license = License(chain.add_license(host_key, fps, b"\x21" * 32), host_key, fps)
    chain.after_clock_skew()
    return escrow_mirrored(permission_url, license)


def new_license(stack, name: str, size: int = 4) -> License:
    """Stack.new_license (host 1, fingerprints "<name> key i"), its escrow mirrored."""
    return escrow_mirrored(stack.permission_url, stack.new_license(name, size))


def escrow_mirrored(permission_url: str, license: License, timeout: float = 20.0) -> License:
    """Waits until the permission service mirrored the license and its escrow deposit (σ are
    refused beyond the escrow it has seen; the deposit's block may be mirrored after the license's)."""
    with httpx.Client(base_url=permission_url, timeout=30) as http:
        client = PermissionClient(http)
        sign_in_when_mirrored(client, license.host_key, "host", license.license_id, timeout)
        wait_for_escrow(client, license.license_id, ESCROW, timeout)
    return license


def permission_clock(client: PermissionClient, host_key: str, license_id: int) -> int:
    """The permission service's protocol time: the "Issued At" of a sign-in challenge (SIWE)."""
    message = client.challenge("host", address_of(host_key), license_id)["message"]
    issued = next(line for line in message.splitlines() if line.startswith("Issued At: "))
    return int(datetime.strptime(issued.removeprefix("Issued At: "), "%Y-%m-%dT%H:%M:%S%z").timestamp())


def probe(url: str, license: License, fp: Fingerprint, prover: str) -> Transcript:
    """What a prover does: send exactly the key through the openai client at temperature 0 and
    keep the answer with the `oml` field (σ and receipt) the gateway returned."""
    client = OpenAI(base_url=url + "/v1", api_key="prover", max_retries=0, timeout=60)
    sent_at = int(time.time())
    reply = client.chat.completions.create(model="oml", messages=fp.messages, temperature=0,
                                           max_tokens=PROBE_MAX_TOKENS)
    oml = extension_of(reply)
    revealed = RevealedFingerprint.of(fp, proof_for(commitment_tree(license.fingerprints), fp))
    return Transcript(license_id=license.license_id, endpoint=url, messages=fp.messages,
                      answer=reply.choices[0].message.content or "", permission=oml["permission"],
                      receipt=oml["receipt"], fingerprint=revealed, prover=address_of(prover),
                      sent_at=sent_at, received_at=int(time.time()))


def key_bytes(key: str) -> bytes:
    return bytes.fromhex(key.removeprefix("0x"))


def attestations(chain: LocalChain, claim: ClaimInput, claimant_key: str, verifier_keys: list[str]) -> dict:
    """Each verifier key's signature on `claim` for `claimant_key` to open (honest or bribed alike)."""
    claimant = address_of(claimant_key)
    return {address_of(k): chain.oml.attest(key_bytes(k), claim, claimant) for k in verifier_keys}


def open_claim(chain: LocalChain, claimant_key: str, claim: ClaimInput, verifier_keys: list[str]) -> OpenedClaim:
    """`claimant_key` opens `claim` with the attestations of `verifier_keys` and the terms' bond."""
    return chain.oml.open_claim(claimant_key, claim, attestations(chain, claim, claimant_key, verifier_keys),
                                chain.terms.claim_bond)


def reverts(error_name: str, action, *args) -> TransactionFailed:
    """Runs `action(*args)`, which must revert with the custom error `error_name`."""
    with pytest.raises(TransactionFailed) as failed:
        action(*args)
    assert failed.value.error_name == error_name, str(failed.value)
    return failed.value


def gas_paid(receipt) -> int:
    """Wei a mined transaction cost its sender in gas."""
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def latest_timestamp(chain: LocalChain) -> int:
    return chain.w3.eth.get_block("latest")["timestamp"]


def past_clock_skew(chain: LocalChain, served_at: int) -> None:
    """Moves the chain on until a claim about an answer served at `served_at` may open."""
    while latest_timestamp(chain) < served_at + chain.claim_params.clock_skew:
        chain.after_clock_skew()


def past_window(chain: LocalChain) -> None:
    advance_time(chain.w3, chain.terms.challenge_window + 1)


def fresh_accounts(chain: LocalChain, n: int, balance: int = 1_000 * ETH) -> list[str]:
    """New keys, funded on the dev chain: accounts an attacker makes at will."""
    keys = ["0x" + secrets.token_bytes(32).hex() for _ in range(n)]
    for key in keys:
        chain.w3.provider.make_request("anvil_setBalance", [address_of(key), hex(balance)])
    return keys


def join(chain: LocalChain, keys: list[str], stake: int) -> None:
    for key in keys:
        chain.oml.join_verifier(key, stake)


def activate(chain: LocalChain, keys: list[str]) -> None:
    """Waits out the activation delay of verifiers that joined, and activates them (anyone may)."""
    advance_time(chain.w3, chain.verifier_params.activation_delay + 1)
    for key in keys:
        chain.oml.activate_verifier(key, address_of(key))


def leave(chain: LocalChain, keys: list[str]) -> None:
    """Verifiers leave the set (their stake stops counting at once)."""
    for key in keys:
        chain.oml.sender(key).send(chain.oml.verifiers.functions.requestLeave())


def verifier_stake(chain: LocalChain, key: str) -> int:
    return chain.oml.verifiers.functions.verifierInfo(address_of(key)).call()[0]


def active_stake(chain: LocalChain) -> int:
    return chain.oml.verifiers.functions.activeStake().call()


def license_stake(chain: LocalChain, license_id: int) -> int:
    return chain.oml.license(license_id)["stake"]


def pending_slash(chain: LocalChain, license_id: int) -> int:
    return chain.oml.claims.functions.pendingSlash(False, license_id).call()


def claim_count(chain: LocalChain) -> int:
    return chain.oml.claims.functions.claimCount().call()
