"""The permission signer: its key (keystore file or environment) and the two EIP-712 domains it
signs in. The key is the model's `permissionSigner` on chain, so it never leaves this object."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

from coincurve import PrivateKey
from eth_account import Account

from oml_core import typed_data as td
from services.permission.config import Settings


class SignerConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class Signer:
    private_key: bytes = field(repr=False)
    permission_domain: td.Domain  # ClaimManager: verifies σ in refute
    voucher_domain: td.Domain     # UsageSettlement: verifies vouchers in settle

    @functools.cached_property
    def address(self) -> str:
        # Every σ response names the signer; deriving it from the key costs ~150 µs.
        return Account.from_key(self.private_key).address

    @functools.cached_property
    def _key(self) -> PrivateKey:
        # Building a coincurve key from bytes costs more than one signature: build it once.
        return PrivateKey(bytes(self.private_key))

    def sign_permission(self, permission: td.Permission) -> bytes:
        return td.sign_typed(permission, self.permission_domain, self._key)

    def sign_voucher(self, voucher: td.UsageVoucher) -> bytes:
        return td.sign_typed(voucher, self.voucher_domain, self._key)

    def sign_closure(self, closure: td.UsageClosure) -> bytes:
        return td.sign_typed(closure, self.voucher_domain, self._key)


def load_private_key(settings: Settings) -> bytes:
    """From OML_PERMISSION_KEYSTORE (+ _KEYSTORE_PASSWORD), else OML_PERMISSION_SIGNER_KEY."""
    if settings.keystore is not None:
        if settings.keystore_password is None:
            raise SignerConfigError("keystore given without OML_PERMISSION_KEYSTORE_PASSWORD")
        try:
            keystore = json.loads(settings.keystore.read_text())
            return bytes(Account.decrypt(keystore, settings.keystore_password.get_secret_value()))
        except (OSError, ValueError, KeyError) as exc:
            raise SignerConfigError(f"cannot decrypt keystore {settings.keystore}: {exc}") from None
    if settings.signer_key is not None:
        raw = settings.signer_key.get_secret_value().removeprefix("0x")
        try:
            key = bytes.fromhex(raw)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise SignerConfigError("OML_PERMISSION_SIGNER_KEY must be 32 bytes of hex")
        return key
    raise SignerConfigError("no signer key: set OML_PERMISSION_KEYSTORE or OML_PERMISSION_SIGNER_KEY")


def write_keystore(private_key: bytes, password: str, **kdf) -> dict:
    """An eth-account (V3) keystore of `private_key`, e.g. for `oml permission keystore`.
    `kdf` (kdf=, iterations=) goes to Account.encrypt; its default is scrypt at full strength."""
    return Account.encrypt(private_key, password, **kdf)
