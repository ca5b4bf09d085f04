"""The chain tooling below deployment: anvil lifecycle, the compile cache, revert decoding, `oml chain up`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from eth_abi import encode

from oml_core.chain import compiler
from oml_core.chain.anvil import AnvilNode, free_port, rpc_call
from oml_core.chain.client import ErrorDecoder


def test_anvil_node_starts_on_a_free_port_and_stops():
    with AnvilNode(block_time=1, chain_id=4242, accounts=2) as node:
        assert node.chain_id == 4242 and len(node.accounts) == len(node.private_keys) == 2
        assert int(rpc_call(node.url, "eth_chainId"), 16) == 4242
        process = node.process
    assert process.poll() is not None
    with pytest.raises(OSError):
        rpc_call(node.url, "eth_chainId", timeout=0.5)


def test_two_nodes_run_side_by_side():
    with AnvilNode() as a, AnvilNode() as b:
        assert a.port != b.port


def test_compile_cache_skips_solc(tmp_path, compiled, monkeypatch):
    cache = tmp_path / "contracts.json"
    monkeypatch.setattr(compiler, "_run_solc", lambda *_: compiled)  # the tree compiled once this session
    assert compiler.compile_contracts(cache_path=cache) == compiled
    monkeypatch.setattr(compiler, "_run_solc", lambda *_: pytest.fail("cache miss: solc ran again"))
    assert compiler.compile_contracts(cache_path=cache) == compiled


def test_compiled_output_has_the_five_contracts(compiled):
    for name in ("ModelRegistry", "VerifierRegistry", "LicenseManager", "UsageSettlement", "ClaimManager"):
        abi, bytecode = compiled[name]
        assert abi and len(bytecode) > 2


def test_decoder_reads_error_string_and_panic():
    decoder = ErrorDecoder()
    assert str(decoder.decode("0x08c379a0" + encode(["string"], ["nope"]).hex())) == "Error(reason=nope)"
    panic = decoder.decode(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11]))
    assert panic.name == "Panic" and "overflow" in panic.args["code"]
    assert decoder.decode("0xdeadbeef") is None and decoder.decode(None) is None


def test_oml_chain_up_serves_until_interrupted():
    port = free_port()
    env = dict(os.environ, OML_RPC_URL=f"http://127.0.0.1:{port}")
    process = subprocess.Popen([sys.executable, "-m", "oml_core.cli.main", "chain", "up", "--accounts", "2"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert int(rpc_call(env["OML_RPC_URL"], "eth_chainId", timeout=0.5), 16) == 31337
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
                time.sleep(0.1)
        time.sleep(0.5)  # let it print the banner before the interrupt
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in out and "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" in out
    with pytest.raises(OSError):
        rpc_call(env["OML_RPC_URL"], "eth_chainId", timeout=0.5)


def test_missing_npm_tools_name_the_fix(tmp_path, monkeypatch):
    from oml_core.chain import toolchain
    from oml_core.chain.errors import ToolchainError

    (tmp_path / "package.json").write_text("{}")
    (tmp_path / "contracts").mkdir()
    monkeypatch.setenv("OML_REPO_ROOT", str(tmp_path))
    toolchain.repo_root.cache_clear()
    try:
        for lookup in (toolchain.anvil_path, toolchain.forge_path, toolchain.solc_shim_path):
            with pytest.raises(ToolchainError, match="npm ci|solc shim missing"):
                lookup()
    finally:
        monkeypatch.delenv("OML_REPO_ROOT")
        toolchain.repo_root.cache_clear()


def test_a_taken_port_is_a_clear_error(anvil):
    from oml_core.chain.errors import ToolchainError

    with pytest.raises(ToolchainError, match=f"anvil did not start on 127.0.0.1:{anvil.port}"):
        AnvilNode(port=anvil.port).start()
