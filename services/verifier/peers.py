"""Asking peer verifiers to attest a claim: a signed `POST /v1/attestations` each, and a local
check of every signature that comes back (right signer, active in VerifierRegistry). The quorum
is stake: attesters must hold two thirds of the active verifiers' counted stake."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from eth_account import Account

from oml_core import typed_data as td
from oml_core.contracts import ClaimInput
from services.common.signed_requests import sign_headers
from services.common.transcript import Transcript
from services.verifier.chain import ChainView

ATTESTATIONS_PATH = "/v1/attestations"


class PeerError(Exception):
    """A peer did not attest (refused, unreachable, or answered nonsense)."""


def attestation_request(transcript: Transcript, claimant: str) -> bytes:
    return json.dumps({"transcript": transcript.model_dump(mode="json"), "claimant": claimant}).encode()


def ask_peer(http: httpx.Client, key: bytes, transcript: Transcript, claimant: str) -> tuple[str, bytes]:
    """(peer address, signature) of one peer's attestation, or PeerError with its reason."""
    body = attestation_request(transcript, claimant)
    headers = {"Content-Type": "application/json", **sign_headers(key, "POST", ATTESTATIONS_PATH, body)}
    try:
        response = http.post(ATTESTATIONS_PATH, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise PeerError(f"{http.base_url}: unreachable ({type(exc).__name__})") from None
    try:
        answer = response.json()
    except ValueError:
        raise PeerError(f"{http.base_url}: {response.status_code} without JSON") from None
    if response.status_code != 200:
        raise PeerError(f"{http.base_url}: {response.status_code} {answer.get('error')}: "
                        f"{answer.get('detail')}")
    try:
        return str(answer["verifier"]), bytes.fromhex(str(answer["signature"]).removeprefix("0x"))
    except (KeyError, ValueError, TypeError):
        raise PeerError(f"{http.base_url}: malformed attestation {answer!r}") from None


@dataclass
class Gathering:
    attestations: dict[str, bytes]
    stake: int = 0  # counted stake behind the attestations
    errors: list[str] = field(default_factory=list)


def gather(transcript: Transcript, claim: ClaimInput, key: bytes, peers: list[httpx.Client],
           chain: ChainView, known: dict[str, bytes], quorum_stake: int) -> Gathering:
    """Own attestation, the still valid `known` ones, then peers until `quorum_stake` is reached.

    Peers are asked in waves, each wave in parallel (a peer re-checks the transcript before it
    signs: asking one after another added those checks up): the first wave asks as many peers as
    attestations would be missing if each peer held as much stake as the smallest known one, and
    a peer that refuses or fails is replaced in the next wave."""
    claimant = Account.from_key(key).address
    digest = claim.attestation(claimant).digest(chain.attestation_domain)
    result = Gathering({})
    _add(result, claimant, td.sign_digest(digest, key), chain)
    for address, signature in known.items():
        if address != claimant and (signer := _active_signer(digest, address, signature, chain)):
            _add(result, signer, signature, chain)
    waiting = list(peers)
    while waiting and result.stake < quorum_stake:
        size = _wave_size(result, quorum_stake)
        wave, waiting = waiting[:size], waiting[size:]
        with ThreadPoolExecutor(len(wave)) as pool:
            answers = list(pool.map(lambda peer: _ask(peer, key, transcript, claimant), wave))
        for peer, answer in zip(wave, answers, strict=True):
            if isinstance(answer, PeerError):
                result.errors.append(str(answer))
            elif (signer := _active_signer(digest, *answer, chain)) is None:
                result.errors.append(f"{peer.base_url}: signature is not an active verifier's attestation")
            else:
                _add(result, signer, answer[1], chain)
    return result


def _add(result: Gathering, signer: str, signature: bytes, chain: ChainView) -> None:
    if signer not in result.attestations:
        result.attestations[signer] = signature
        result.stake += chain.counted_stake(signer)


def _wave_size(result: Gathering, quorum_stake: int) -> int:
    missing = quorum_stake - result.stake
    typical = result.stake // len(result.attestations) if result.stake else 0
    return max(1, -(-missing // typical)) if typical else 1


def _ask(peer: httpx.Client, key: bytes, transcript: Transcript, claimant: str) -> tuple[str, bytes] | PeerError:
    try:
        return ask_peer(peer, key, transcript, claimant)
    except PeerError as exc:
        return exc


def _active_signer(digest: bytes, address: str, signature: bytes, chain: ChainView) -> str | None:
    """The checksummed signer when `signature` is `address`'s attestation and it is an active verifier."""
    try:
        signer = td.recover_signer(digest, signature)
    except ValueError:
        return None
    if signer.lower() != address.lower() or not chain.is_active_verifier(signer):
        return None
    return signer
