"""services/common/workers.py: worker sockets share a port with each other, never with another server."""
from __future__ import annotations

import os
import secrets

import pytest
from typer.testing import CliRunner

from services.common.workers import _check_free, listening_socket
from services.permission import testing
from services.permission.cli import app


def test_worker_sockets_share_a_port_but_a_taken_port_is_refused():
    first = listening_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    try:
        second = listening_socket("127.0.0.1", port)  # another worker of the same server
        second.close()
        with pytest.raises(OSError):
            _check_free("127.0.0.1", port)  # what a second server checks before it starts
    finally:
        first.close()
    _check_free("127.0.0.1", port)


def test_serving_workers_on_a_taken_port_is_a_clear_cli_error(tmp_path):
    taken = listening_socket("127.0.0.1", 0)
    port = taken.getsockname()[1]
    env = testing.service_env(f"sqlite:///{tmp_path}/p.db", secrets.token_bytes(32))
    try:
        result = CliRunner().invoke(app, ["serve", "--port", str(port), "--workers", "2"], env=env)
    finally:
        taken.close()
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output, result.output
    assert "OML_PERMISSION_WRITER_SOCKET" not in os.environ  # the workers' settings stay theirs
