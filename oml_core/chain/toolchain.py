"""Where the pinned native tools live: the repository root, node_modules binaries, the solc shim.

The tools come from npm (package.json / package-lock.json), so a checkout without `npm ci`
has none of them; every lookup here says so instead of failing later with a bare ENOENT.
"""
from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path

from oml_core.chain.errors import ToolchainError

SOLC_VERSION = "0.8.28"  # pinned by package.json ("solc": "0.8.28") and ape-config.yaml


@lru_cache(maxsize=1)
def repo_root() -> Path:
    """The checkout's root: OML_REPO_ROOT if set, else the first parent of this file holding package.json."""
    if env := os.environ.get("OML_REPO_ROOT"):
        return Path(env).resolve()
    for parent in Path(__file__).resolve().parents:
        if (parent / "package.json").is_file() and (parent / "contracts").is_dir():
            return parent
    raise ToolchainError("cannot find the OML repository root (no package.json above "
                         f"{Path(__file__).parent}); set OML_REPO_ROOT")


def contracts_src_dir() -> Path:
    """contracts/src, or $OML_CONTRACTS_SRC (to compile and deploy another tree, e.g. a fixture)."""
    return Path(os.environ.get("OML_CONTRACTS_SRC") or repo_root() / "contracts" / "src")


def build_dir() -> Path:
    return repo_root() / "build"


def _npm_missing(what: str, path: Path) -> ToolchainError:
    return ToolchainError(f"{what} not found at {path}: run `npm ci` in {repo_root()}")


def _node_module_binary(package: str, binary: str) -> Path:
    path = repo_root() / "node_modules" / "@foundry-rs" / package / "bin" / binary
    if not path.is_file():
        raise _npm_missing(binary, path)
    if not os.access(path, os.X_OK):
        raise ToolchainError(f"{path} is not executable: run `npm ci` again (or chmod +x it)")
    return path


def anvil_path() -> Path:
    """The anvil binary pinned in package.json (@foundry-rs/anvil-linux-amd64)."""
    return _node_module_binary("anvil-linux-amd64", "anvil")


def forge_path() -> Path:
    return _node_module_binary("forge-linux-amd64", "forge")


def solc_shim_path() -> Path:
    """tools/solc: a native-looking solc over solcjs; needs node and node_modules/solc."""
    shim = repo_root() / "tools" / "solc"
    if not shim.is_file():
        raise ToolchainError(f"solc shim missing at {shim}")
    solcjs = repo_root() / "node_modules" / "solc" / "package.json"
    if not solcjs.is_file():
        raise _npm_missing("solcjs (npm package solc)", solcjs.parent)
    if shutil.which("node") is None:
        raise ToolchainError("node is not on PATH: the solc shim (tools/solc) runs on Node.js")
    return shim
