"""A local anvil node on a free loopback port, owned by this process (context manager)."""
from __future__ import annotations

import atexit
import ctypes
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

from oml_core.chain.errors import ToolchainError
from oml_core.chain.toolchain import anvil_path

# anvil's default mnemonic ("test test ... junk") account 0: public knowledge, dev chains only.
DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

_PORT_ATTEMPTS = 5  # a free port can be taken between our probe and anvil's bind


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 2.0):
    """One raw JSON-RPC call (no web3): used to probe a node that may not be up yet."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.load(response)
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a JSON-RPC node answers eth_chainId at url."""
    try:
        rpc_call(url, "eth_chainId", timeout=timeout)
    except (OSError, ValueError, RuntimeError):
        return False
    return True


# loaded before any fork: the child may only call into it, never dlopen (deadlock-prone after fork)
_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def advance_time(w3, seconds: int) -> None:
    """Moves a dev chain's clock forward and mines a block at the new time (anvil's evm_* RPCs)."""
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])


def _die_with_parent() -> None:
    # Linux: SIGTERM anvil when the process that started it dies, even by SIGKILL,
    # so crashed test runs do not leave nodes behind. One libc call between fork and exec.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class AnvilNode:
    """Starts anvil, waits until it answers eth_chainId, stops it on exit.

    `block_time=None` mines a block per transaction (automine); a number mines on that interval.
    `port=None` picks a free loopback port. Accounts and keys are read from anvil's --config-out.
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 block_time: float | None = None, chain_id: int | None = None,
                 accounts: int = 10, silent: bool = True, extra_args: tuple[str, ...] = (),
                 startup_timeout: float = 15.0):
        self.host, self.requested_port = host, port
        self.block_time, self.chain_id_option = block_time, chain_id
        self.account_count, self.silent, self.extra_args = accounts, silent, tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.chain_id: int | None = None
        self.accounts: list[str] = []
        self.private_keys: list[str] = []
        self._workdir = tempfile.TemporaryDirectory(prefix="oml-anvil-")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _command(self, port: int) -> list[str]:
        cmd = [str(anvil_path()), "--host", self.host, "--port", str(port),
               "--accounts", str(self.account_count), "--config-out", str(self._config_path)]
        if self.silent:
            cmd.append("--silent")
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.chain_id_option is not None:
            cmd += ["--chain-id", str(self.chain_id_option)]
        return cmd + list(self.extra_args)

    @property
    def _config_path(self) -> Path:
        return Path(self._workdir.name) / "anvil-config.json"

    @property
    def _log_path(self) -> Path:
        return Path(self._workdir.name) / "anvil.log"

    def start(self) -> AnvilNode:
        if self.process is not None:
            return self
        attempts = 1 if self.requested_port else _PORT_ATTEMPTS
        for _ in range(attempts):
            port = self.requested_port or free_port(self.host)
            if self._try_start(port):
                atexit.register(self.stop)
                return self
        raise ToolchainError(f"anvil did not start on {self.host}:{port}: {self._log_tail()}")

    def _try_start(self, port: int) -> bool:
        # a node already on this port would answer our probe for the one we start (which then dies)
        if answers(f"http://{self.host}:{port}", timeout=0.3):
            if self.requested_port:
                raise ToolchainError(f"anvil did not start on {self.host}:{port}: a node already answers there")
            return False
        self._config_path.unlink(missing_ok=True)
        with open(self._log_path, "wb") as log:
            self.process = subprocess.Popen(self._command(port), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL,
                                            preexec_fn=_die_with_parent)  # noqa: PLW1509
        self.port = port
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:  # exited: most likely the port was taken
                self.process = None
                return False
            try:
                self.chain_id = int(rpc_call(self.url, "eth_chainId", timeout=1.0), 16)
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.02)
                continue
            self._read_config()
            return True
        self.stop()
        raise ToolchainError(f"anvil did not answer at {self.url} within {self.startup_timeout}s")

    def _read_config(self) -> None:
        # anvil writes --config-out before it serves, but do not trust that ordering blindly.
        for _ in range(100):
            try:
                config = json.loads(self._config_path.read_text())
                break
            except (OSError, ValueError):
                time.sleep(0.02)
        else:
            return
        self.accounts = [_checksum(a) for a in config.get("available_accounts", [])]
        self.private_keys = list(config.get("private_keys", []))

    def _log_tail(self) -> str:
        try:
            return self._log_path.read_text(errors="replace").strip()[-500:] or "no output"
        except OSError:
            return "no output"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address
    return to_checksum_address(address)
