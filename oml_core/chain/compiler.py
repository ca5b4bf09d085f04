"""Compile contracts/src with the pinned solcjs (through tools/solc and py-solc-x), with a cache.

The cache (build/contracts.json) is keyed by a hash of every source, the settings and the
compiler pin, so an unchanged tree costs one file read instead of a solcjs run (seconds).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from oml_core.chain.errors import CompileError
from oml_core.chain.toolchain import (
    SOLC_VERSION,
    build_dir,
    contracts_src_dir,
    repo_root,
    solc_shim_path,
)

SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "viaIR": False,
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.bytecode.linkReferences"]}},
}


class CompiledContract(NamedTuple):
    abi: list
    bytecode: str  # 0x-prefixed creation code; "0x" for interfaces and abstract contracts


def compile_contracts(src_dir: Path | None = None, cache_path: Path | None = None,
                      force: bool = False) -> dict[str, CompiledContract]:
    """{contract name: (abi, bytecode)} for every contract under src_dir (default contracts/src).

    A name defined in two files is keyed "<source unit>:<name>" for both, never silently shadowed.
    """
    src_dir = Path(src_dir or contracts_src_dir()).resolve()
    cache_path = Path(cache_path or build_dir() / "contracts.json")
    base_dir = src_dir.parent  # source unit names are "src/X.sol", as forge names them
    sources = _read_sources(src_dir, base_dir)
    key = _cache_key(sources)
    if not force and (cached := _load_cache(cache_path, key)) is not None:
        return cached
    contracts = _run_solc(sources, base_dir)
    _store_cache(cache_path, key, contracts)
    return contracts


def _read_sources(src_dir: Path, base_dir: Path) -> dict[str, str]:
    files = sorted(src_dir.rglob("*.sol"))
    if not files:
        raise CompileError(f"no Solidity sources under {src_dir}")
    return {path.relative_to(base_dir).as_posix(): path.read_text(encoding="utf8") for path in files}


def _cache_key(sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    pin = repo_root() / "node_modules" / "solc" / "package.json"
    shim = repo_root() / "tools" / "solc"
    for part in (json.dumps(SETTINGS, sort_keys=True), SOLC_VERSION,
                 pin.read_text() if pin.is_file() else "", shim.read_text() if shim.is_file() else ""):
        digest.update(hashlib.sha256(part.encode()).digest())
    for name, text in sources.items():
        digest.update(hashlib.sha256(name.encode()).digest() + hashlib.sha256(text.encode()).digest())
    return digest.hexdigest()


def _load_cache(cache_path: Path, key: str) -> dict[str, CompiledContract] | None:
    try:
        cached = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        return None
    if cached.get("cacheKey") != key:
        return None
    return {name: CompiledContract(c["abi"], c["bytecode"]) for name, c in cached["contracts"].items()}


def _store_cache(cache_path: Path, key: str, contracts: dict[str, CompiledContract]) -> None:
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    document = {"cacheKey": key, "solcVersion": SOLC_VERSION, "settings": SETTINGS,
                "contracts": {n: {"abi": c.abi, "bytecode": c.bytecode} for n, c in contracts.items()}}
    # write-then-rename: a parallel run never reads a half-written cache
    fd, tmp = tempfile.mkstemp(dir=cache_path.parent, prefix=".contracts-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle)
    os.replace(tmp, cache_path)


def _run_solc(sources: dict[str, str], base_dir: Path) -> dict[str, CompiledContract]:
    import solcx
    from solcx.exceptions import SolcError

    standard_input = {"language": "Solidity", "settings": SETTINGS,
                      "sources": {name: {"content": text} for name, text in sources.items()}}
    try:
        output = solcx.compile_standard(standard_input, base_path=str(base_dir),
                                        allow_paths=[str(base_dir)], solc_binary=str(solc_shim_path()))
    except SolcError as exc:
        raise CompileError(_describe_solc_errors(exc)) from None
    return _collect(output)


def _describe_solc_errors(exc) -> str:
    """First line: where and what the first error is (the CLI's red line); then solc's full text."""
    errors = [e for e in (getattr(exc, "error_dict", None) or []) if e.get("severity") == "error"]
    if not errors:
        return f"solc failed: {exc}"
    first, where = errors[0], errors[0].get("sourceLocation") or {}
    location = f"{where['file']}: " if where.get("file") else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    details = "\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors)
    return f"solc: {location}{first.get('type', 'Error')}: {first.get('message')}{more}\n{details}"


def _collect(output: dict) -> dict[str, CompiledContract]:
    found: list[tuple[str, str, CompiledContract]] = []
    for source, units in output.get("contracts", {}).items():
        for name, unit in units.items():
            bytecode = unit["evm"]["bytecode"]
            if bytecode.get("linkReferences"):
                raise CompileError(f"{source}:{name} needs linked libraries; keep library functions internal")
            found.append((source, name, CompiledContract(unit["abi"], "0x" + bytecode["object"])))
    counts: dict[str, int] = {}
    for _, name, _ in found:
        counts[name] = counts.get(name, 0) + 1
    return {(name if counts[name] == 1 else f"{source}:{name}"): compiled for source, name, compiled in found}
