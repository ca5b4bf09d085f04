"""What can go wrong for a prover, as exceptions with a reason the CLI prints in one line."""
from __future__ import annotations


class ProverError(Exception):
    """Base of the prover's expected failures."""


class WrongPassphrase(ProverError):
    """The database was sealed with another passphrase (or none was given)."""


class NoKeysLeft(ProverError):
    """Every fingerprint key loaded for the license has been used."""


class FingerprintsRejected(ProverError):
    """Fingerprints that are not leaves of the license's commitment."""


class NotConfigured(ProverError):
    """A setting the action needs (the prover key, a verifier) is missing."""
