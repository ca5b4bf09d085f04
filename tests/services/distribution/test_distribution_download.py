"""The owner's download route and `download_model`: only the license's host, only while the
license is active, and only a model whose weights are the ones committed on chain."""
from __future__ import annotations

import io
import tarfile

import pytest

from oml_core.omlize import Manifest, weights_hash
from services.common.signed_requests import sign_headers
from services.distribution.download import DownloadError, download_model
from services.distribution.publish import license_dir
from services.distribution.tarball import UnsafeArchive, safe_extract
from services.stack import weights_hash_bytes32

OWNER = "http://testserver"


def route(license_id: int) -> str:
    return f"/v1/licenses/{license_id}/model"


def test_the_host_downloads_its_model_and_the_hash_matches_the_chain(chain, issue, owner, models_dir, tmp_path):
    host = chain.accounts.hosts[0]
    license_id = issue(host)
    out = download_model(OWNER, license_id, host, chain.oml, tmp_path / "mine", http=owner)
    assert Manifest.read(out).license_id == license_id
    assert weights_hash_bytes32(weights_hash(out)) == bytes(chain.oml.license(license_id)["weightsHash"])
    source = license_dir(models_dir, license_id)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes() for p in source.iterdir()}
    assert not (tmp_path / "mine.partial").exists()


def test_another_account_is_refused(chain, issue, owner):
    license_id = issue(chain.accounts.hosts[0])
    response = owner.get(route(license_id), headers=sign_headers(chain.accounts.hosts[1], "GET", route(license_id)))
    assert response.status_code == 403
    assert response.json()["error"] == "not_license_host"


def test_unsigned_replayed_and_unknown_requests(chain, issue, owner):
    host = chain.accounts.hosts[0]
    license_id = issue(host)
    assert owner.get(route(license_id)).status_code == 401
    headers = sign_headers(host, "GET", route(license_id))
    assert owner.get(route(license_id), headers=headers).status_code == 200
    replay = owner.get(route(license_id), headers=headers)
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]
    other_path = owner.get(route(license_id + 1000), headers=sign_headers(host, "GET", route(license_id)))
    assert other_path.status_code == 401  # a signature binds the path
    unknown = owner.get(route(license_id + 1000), headers=sign_headers(host, "GET", route(license_id + 1000)))
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_license"


def test_an_inactive_license_is_refused(chain, issue, owner, tmp_path):
    host = chain.accounts.hosts[0]
    license_id = issue(host)
    chain.oml.request_exit(host, license_id)
    with pytest.raises(DownloadError, match="license_not_active"):
        download_model(OWNER, license_id, host, chain.oml, tmp_path / "mine", http=owner)
    assert not (tmp_path / "mine").exists()


def test_a_license_without_a_prepared_model_is_a_404(chain, issue, owner, models_dir):
    host = chain.accounts.hosts[0]
    license_id = issue(host)
    (license_dir(models_dir, license_id) / "oml.json").unlink()
    response = owner.get(route(license_id), headers=sign_headers(host, "GET", route(license_id)))
    assert response.status_code == 404 and response.json()["error"] == "model_not_found"


def test_tampered_weights_fail_the_hash_check_and_are_deleted(chain, issue, owner, models_dir, tmp_path):
    host = chain.accounts.hosts[0]
    license_id = issue(host)
    weights = next(license_dir(models_dir, license_id).glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match="weights hash"):
        download_model(OWNER, license_id, host, chain.oml, tmp_path / "mine", http=owner)
    assert not any(p.name.startswith("mine") for p in tmp_path.iterdir())  # nothing left behind


def test_a_manifest_for_another_license_is_rejected(chain, issue, owner, models_dir, tmp_path):
    host = chain.accounts.hosts[0]
    first = issue(host)
    second = issue(host)  # same weights (same tiny model), so the weights hash alone cannot tell
    manifest = license_dir(models_dir, first) / "oml.json"
    (license_dir(models_dir, second) / "oml.json").write_text(manifest.read_text())
    with pytest.raises(DownloadError, match=f"for license {first}, not {second}"):
        download_model(OWNER, second, host, chain.oml, tmp_path / "mine", http=owner)


def _tar_with(member: tarfile.TarInfo, data: bytes = b"") -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(member, io.BytesIO(data) if data else None)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("name, kind", [("../evil", tarfile.REGTYPE), ("/etc/evil", tarfile.REGTYPE),
                                        ("link", tarfile.SYMTYPE), ("hard", tarfile.LNKTYPE)])
def test_safe_extract_refuses_escapes_and_links(tmp_path, name, kind):
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    data = b"x" if kind == tarfile.REGTYPE else b""
    member.size = len(data)
    archive = tmp_path / "a.tar"
    archive.write_bytes(_tar_with(member, data).getvalue())
    with pytest.raises(UnsafeArchive):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
