"""`download_model`: a host fetches its license's M.oml from the owner and accepts it only if it
is the model the chain committed to: the weights hash of the files received equals the license's
on-chain weightsHash, and the manifest names this license and its on-chain fingerprint root.
Anything else is deleted. The directory appears complete or not at all."""
from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from eth_account import Account
from web3.exceptions import ContractLogicError

from oml_core.contracts import OMLContracts
from oml_core.omlize import Manifest, weights_hash
from services.common.signed_requests import sign_headers
from services.distribution.tarball import UnsafeArchive, safe_extract
from services.stack import weights_hash_bytes32


class DownloadError(RuntimeError):
    """The owner refused, the transfer failed, or what arrived is not the committed model."""


def _refusal(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('error', 'error')}: {body.get('detail', '')}"
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"


def verify_download(directory: Path, license_id: int, license: dict) -> Manifest:
    """The manifest, after checking `directory` against the license's on-chain commitment."""
    try:
        manifest = Manifest.read(directory)
        actual = weights_hash(directory)
    except (OSError, ValueError, TypeError) as exc:
        raise DownloadError(f"the download is not an M.oml: {exc}") from None
    committed = bytes(license["weightsHash"])
    if weights_hash_bytes32(actual) != committed:
        raise DownloadError(f"weights hash {actual} does not match license {license_id}'s on-chain "
                            f"weightsHash 0x{committed.hex()}: the files were altered or are not this license's")
    if actual != manifest.weights_hash:
        raise DownloadError(f"oml.json names weights {manifest.weights_hash}, the files hash to {actual}")
    if manifest.license_id != license_id:
        raise DownloadError(f"oml.json is for license {manifest.license_id}, not {license_id}")
    root = "0x" + bytes(license["fingerprintRoot"]).hex()
    if manifest.fingerprint_root.lower() != root:
        raise DownloadError(f"oml.json's fingerprint root {manifest.fingerprint_root} is not the on-chain {root}")
    return manifest


def download_model(owner_url: str, license_id: int, host_key: str | bytes, oml: OMLContracts,
                   out_dir: str | Path, timeout_s: float = 600.0, overwrite: bool = False,
                   http: httpx.Client | None = None) -> Path:
    """Fetches, checks and unpacks license `license_id`'s M.oml into `out_dir`; returns it.
    `http`: the client to use (e.g. FastAPI's TestClient); default a new one."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise DownloadError(f"{out_dir} already exists")
    try:
        license = oml.license(license_id)
    except ContractLogicError:
        raise DownloadError(f"license {license_id} does not exist on chain") from None
    me = Account.from_key(host_key).address
    if license["host"].lower() != me.lower():
        raise DownloadError(f"{me} is not the host of license {license_id} (the host is {license['host']})")
    path = urlsplit(owner_url).path.rstrip("/") + f"/v1/licenses/{license_id}/model"
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".oml-download-") as tmp:
        archive = Path(tmp) / "model.tar"
        url = owner_url.rstrip("/") + f"/v1/licenses/{license_id}/model"
        client = http or httpx.Client(timeout=timeout_s)
        try:
            with client.stream("GET", url, headers=sign_headers(host_key, "GET", path)) as response:
                if response.status_code != 200:
                    response.read()
                    raise DownloadError(f"the owner refused the download: {_refusal(response)}")
                with archive.open("wb") as f:
                    for chunk in response.iter_bytes():
                        f.write(chunk)
        except httpx.HTTPError as exc:
            raise DownloadError(f"download from {owner_url} failed: {type(exc).__name__}: {exc}") from None
        finally:
            if http is None:
                client.close()
        try:
            safe_extract(archive, partial)
            verify_download(partial, license_id, license)
        except (UnsafeArchive, tarfile.TarError) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise DownloadError(f"refusing the archive: {exc}") from None
        except DownloadError:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    partial.rename(out_dir)
    return out_dir
