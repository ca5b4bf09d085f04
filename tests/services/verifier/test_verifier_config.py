"""Settings: lists from the environment, and bad values refused on construction."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.verifier.config import Settings

KEY = "0x" + "11" * 32
PROVER = "0x" + "ab" * 20


def test_peers_and_provers_come_comma_separated_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OML_VERIFIER_KEY", KEY)
    monkeypatch.setenv("OML_VERIFIER_PEERS", "http://a.test:1/, http://b.test:2")
    monkeypatch.setenv("OML_VERIFIER_PROVERS", PROVER)
    settings = Settings(deployment=tmp_path / "d.json", permission_url="http://p.test")
    assert settings.peers == ["http://a.test:1", "http://b.test:2"]
    assert settings.provers == ["0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"]
    assert settings.key.get_secret_value() not in repr(settings)


@pytest.mark.parametrize("bad", [{"key": "0x1234"}, {"provers": ["not an address"]}, {"poll_interval_s": 0}])
def test_bad_settings_are_refused(tmp_path, bad):
    values = {"key": KEY, "deployment": tmp_path / "d.json", "permission_url": "http://p.test", **bad}
    with pytest.raises(ValidationError):
        Settings(**values)
