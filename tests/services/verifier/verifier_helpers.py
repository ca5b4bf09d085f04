"""Builders for the verifier tests: transcripts, settings, signed requests, in-process verifiers."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from oml_core import typed_data as td
from oml_core.chain.clock import ChainClock
from oml_core.fingerprint.commit import commitment_tree, proof_for
from oml_core.fingerprint.record import Fingerprint
from services.common.receipt import permission_struct_hash, receipt_body
from services.common.signed_requests import sign_headers
from services.common.transcript import RevealedFingerprint, Transcript
from services.permission.client import PermissionClient
from services.stack import ETH, LocalChain, address_of, sign_in_when_mirrored, wait_for_escrow
from services.verifier.app import create_app
from services.verifier.config import Settings
from services.verifier.service import Verifier


@dataclass
class License:
    license_id: int
    host_key: str
    fingerprints: list[Fingerprint]


@dataclass
class Stack:
    """One chain for the whole verifier test session and the permission service. Tests spend the
    fingerprints of two licenses one by one (a claimed leaf stays spent): claims are executed only
    on `slashable`, so `clean` is never slashed and its host can still get σ."""

    chain: LocalChain
    clean: License
    slashable: License
    permission_url: str
    workdir: Path

    def __post_init__(self):
        self._unused = {id(lic): list(lic.fingerprints) for lic in (self.clean, self.slashable)}
        self._extra: list[License] = []
        self._verifiers: list[Verifier] = []

    @property
    def prover_key(self) -> str:
        return self.chain.accounts.provers[0]

    def fresh_fingerprint(self, license: License | None = None) -> Fingerprint:
        return self._unused[id(license or self.clean)].pop(0)

    def license_of(self, fp: Fingerprint) -> License:
        return next(lic for lic in (self.clean, self.slashable, *self._extra) if fp in lic.fingerprints)

    def new_license(self, name: str, size: int = 4) -> License:
        """A license of its own for a test that slashes or blocks it (host 1), mirrored and begun."""
        host = self.chain.accounts.hosts[1]
        fingerprints = [Fingerprint(f"{name} key {i}", f"{name} secret answer {i}") for i in range(size)]
        license = License(self.chain.add_license(host, fingerprints, b"\x12" * 32), host, fingerprints)
        with httpx.Client(base_url=self.permission_url, timeout=30) as http:
            client = PermissionClient(http)
            sign_in_when_mirrored(client, host, "host", license.license_id)
            wait_for_escrow(client, license.license_id, ETH)
        self.chain.after_clock_skew()
        self._extra.append(license)
        self._unused[id(license)] = list(fingerprints)
        return license

    def transcript(self, fp: Fingerprint, answer: str | None = None, permission: dict | None = None,
                   proof: list[bytes] | None = None, messages: list[dict] | None = None,
                   receipt: dict | None | bool = True, served_at: int | None = None) -> Transcript:
        """A probe's transcript; `receipt=True`: the host's gateway signed the answer (at
        `served_at`; default: one clock skew ago, so a claim may open at once, or when `permission`
        was issued if that is later, as an honest gateway stamps it), None/False: the answer
        carries no receipt."""
        license = self.license_of(fp)
        if proof is None:
            proof = proof_for(commitment_tree(license.fingerprints), fp)
        messages = messages or fp.messages
        answer = fp.response + " and more" if answer is None else answer
        if receipt is True:
            if served_at is None:
                served_at = self.now() - self.chain.claim_params.clock_skew - 1
                if permission is not None:
                    served_at = max(served_at, int(permission["issued_at"]))
            receipt = self.receipt(license, td.query_hash(messages), answer, permission, served_at)
        now = int(time.time())
        return Transcript(license_id=license.license_id, endpoint="http://host.test", messages=messages,
                          answer=answer, permission=permission, receipt=receipt or None,
                          fingerprint=RevealedFingerprint.of(fp, proof),
                          prover=address_of(self.prover_key), sent_at=now, received_at=now)

    def now(self) -> int:
        """Protocol time (follows the dev chain, which up() moved ahead of the wall clock)."""
        return int(ChainClock.of(self.chain.w3)())

    def receipt(self, license: License, query_hash: bytes, answer: str, permission: dict | None = None,
                served_at: int | None = None, key: str | None = None) -> dict:
        """The answer receipt the license's gateway (or `key`) signs."""
        served_at = self.now() if served_at is None else served_at
        receipt = td.AnswerReceipt(license.license_id, query_hash, td.response_hash(answer), served_at,
                                   permission_struct_hash(permission))
        signer_key = bytes.fromhex((key or license.host_key).removeprefix("0x"))
        return receipt_body(receipt, address_of(key or license.host_key),
                            td.sign_typed(receipt, self.chain.oml.receipt_domain, signer_key))

    def sigma(self, fp: Fingerprint) -> dict:
        """σ for the fingerprint's query, issued to the licensed host by the permission service."""
        license = self.license_of(fp)
        with httpx.Client(base_url=self.permission_url, timeout=30) as http:
            client = PermissionClient(http)
            client.sign_in(bytes.fromhex(license.host_key.removeprefix("0x")), "host", license.license_id)
            return client.permission(license.license_id, fp.query_hash)

    def settings(self, verifier_index: int, name: str, **overrides) -> Settings:
        values = {"key": self.chain.accounts.verifiers[verifier_index],
                  "deployment": self.chain.deployment_path,
                  "permission_url": self.permission_url, "provers": [address_of(self.prover_key)],
                  "database_url": f"sqlite:///{self.workdir / name}.db", "poll_interval_s": 0.05,
                  "retry_max_s": 0.05, "request_timeout_s": 30}
        return Settings(**{**values, **overrides})

    def verifier(self, verifier_index: int, name: str, peers: list[httpx.Client] | None = None,
                 **overrides) -> Verifier:
        """An in-process verifier on its own database `name` (the same name: a restart)."""
        verifier = Verifier(self.settings(verifier_index, name, **overrides), peers=peers or [])
        self._verifiers.append(verifier)
        return verifier

    def close(self) -> None:
        for verifier in self._verifiers:
            verifier.stop()

    def peer_client(self, verifier: Verifier) -> TestClient:
        """An in-process peer: the verifier's app without its worker, reachable as an httpx client."""
        return TestClient(create_app(verifier=verifier, run_worker=False))


def signed(key: str, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    return {"Content-Type": "application/json", **sign_headers(key, method, path, body)}


def transcript_body(transcript: Transcript) -> bytes:
    return transcript.model_dump_json().encode()


def attestation_body(transcript: Transcript, claimant: str) -> bytes:
    return json.dumps({"transcript": transcript.model_dump(mode="json"), "claimant": claimant}).encode()
