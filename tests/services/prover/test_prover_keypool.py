"""The key pool hands each key out once (across restarts and threads), seals keys and
transcripts at rest, and refuses a wrong passphrase."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from prover_helpers import LICENSE_ID

from oml_core.fingerprint.record import Fingerprint
from services.permission import testing
from services.prover.errors import NoKeysLeft, WrongPassphrase


def many_fingerprints(n: int) -> list[Fingerprint]:
    return [Fingerprint(f"pool key {i}: the heron counts {i * 31}", f"pool response {i} amber")
            for i in range(n)]


def test_take_hands_out_every_key_once_then_refuses(make_prover):
    fps = many_fingerprints(5)
    pool = make_prover().keys
    pool.add(LICENSE_ID, fps)
    pool.add(LICENSE_ID + 1, [Fingerprint("other license key", "other")])

    taken = [pool.take(LICENSE_ID) for _ in fps]

    # Leaves hash key, response and salt: each key came back once, exactly as loaded.
    assert sorted(t.fingerprint.leaf for t in taken) == sorted(fp.leaf for fp in fps)
    with pytest.raises(NoKeysLeft, match=f"license {LICENSE_ID}"):
        pool.take(LICENSE_ID)
    assert pool.remaining(LICENSE_ID) == 0 and pool.remaining(LICENSE_ID + 1) == 1


def test_used_keys_stay_used_across_a_restart(make_prover):
    fps = many_fingerprints(6)
    first = make_prover()
    first.load(LICENSE_ID, fps)
    before = {first.keys.take(LICENSE_ID).fingerprint.key for _ in range(3)}
    first.close()

    again = make_prover()
    again.load(LICENSE_ID, fps)  # reloading the file must not revive used keys
    after = {again.keys.take(LICENSE_ID).fingerprint.key for _ in range(3)}

    assert before.isdisjoint(after) and len(before | after) == 6
    assert again.keys.remaining(LICENSE_ID) == 0


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    with testing.database_url(request.param, tmp_path) as url:
        yield url


def test_concurrent_takes_never_share_a_key(database_url, make_prover):  # provers close first
    fps = many_fingerprints(40)
    prover = make_prover(database_url=database_url)
    prover.load(LICENSE_ID, fps)
    # A second pool on the same database, as a second process would have.
    pools = [prover.keys, make_prover(database_url=database_url).keys]

    def take(i: int) -> str | None:
        try:
            return pools[i % 2].take(LICENSE_ID).fingerprint.key
        except NoKeysLeft:
            return None

    with ThreadPoolExecutor(8) as executor:
        keys = list(executor.map(take, range(48)))

    handed_out = [k for k in keys if k is not None]
    assert len(handed_out) == 40 and len(set(handed_out)) == 40
    assert keys.count(None) == 8


def test_the_database_holds_no_plaintext_key_or_response(make_prover, target, verifier, fingerprints,
                                                          tmp_path):
    prover = make_prover(verifier_urls=[verifier.url])
    prover.load(LICENSE_ID, fingerprints)
    probed = prover.probe(target).transcript.fingerprint
    prover.close()

    stored = b"".join(path.read_bytes() for path in tmp_path.glob("prover.db*"))  # the file and its WAL

    assert len(stored) > 10_000
    for fp in fingerprints:
        for secret in (fp.key, fp.response, fp.salt.hex()):
            assert secret.encode() not in stored, secret
    assert probed.fingerprint().leaf in stored  # leaves are public


def test_a_wrong_or_missing_passphrase_is_a_clear_error(make_prover):
    make_prover().load(LICENSE_ID, many_fingerprints(2))
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        make_prover(passphrase="not the passphrase")
    with pytest.raises(WrongPassphrase, match="OML_PROVER_PASSPHRASE"):
        make_prover(passphrase=None)
    assert make_prover().keys.remaining(LICENSE_ID) == 2
