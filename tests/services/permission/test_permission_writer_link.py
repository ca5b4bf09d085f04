"""The link between `serve --workers N` workers and the one σ writer process: frames, σ and
refusals through a real Unix socket, and a lost writer answered with 503 (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from oml_core import typed_data as td
from services.permission.errors import Refused
from services.permission.issuance import Issued
from services.permission.writer_link import (
    RemoteWriter,
    WriterServer,
    decode_request,
    decode_response,
    encode_issued,
    encode_refusal,
    encode_request,
)


@pytest.fixture
def socket_path():
    # Unix socket paths are limited to ~100 bytes: pytest's tmp_path can be longer.
    directory = tempfile.mkdtemp(prefix="oml-wl-")
    yield f"{directory}/writer.sock"
    shutil.rmtree(directory, ignore_errors=True)


def test_frames_round_trip():
    hashes = [secrets.token_bytes(32) for _ in range(3)]
    license_id = 2**255 + 7  # uint256, not a machine integer
    frame = encode_request(41, license_id, hashes)
    assert decode_request(frame[4:]) == (41, license_id, hashes)

    issued = [Issued(license_id, h, 10 + i, 1_800_000_000, 20_833, secrets.token_bytes(65), secrets.token_bytes(32))
              for i, h in enumerate(hashes)]
    assert decode_response(encode_issued(41, issued)[4:], license_id, hashes) == issued

    with pytest.raises(Refused) as refused:
        decode_response(encode_refusal(41, Refused(403, "quota_exceeded", "0 of 5 left"))[4:], license_id, hashes)
    assert (refused.value.status, refused.value.code, refused.value.detail) == (403, "quota_exceeded", "0 of 5 left")


def test_a_truncated_request_frame_is_rejected():
    frame = encode_request(1, 1, [secrets.token_bytes(32)])
    for cut in (frame[4:-1], frame[4:20], b""):
        with pytest.raises(ValueError):
            decode_request(cut)


async def _with_server(service, socket_path, body):
    stop = asyncio.Event()
    service.writer.start()
    task = asyncio.create_task(WriterServer(service.writer, socket_path).serve(stop))
    try:
        return await body()
    finally:
        stop.set()
        await task
        service.writer.stop()


def test_workers_get_stored_gap_free_sigma_and_refusals_through_the_socket(licensed, socket_path):
    service = licensed

    async def body():
        workers = [RemoteWriter(socket_path), RemoteWriter(socket_path)]
        asks = [workers[i % 2].issue(1, [secrets.token_bytes(32)]) for i in range(20)]
        got = [i for batch in await asyncio.gather(*asks) for i in batch]
        with pytest.raises(Refused) as unknown:
            await workers[0].issue(99, [secrets.token_bytes(32)])
        for worker in workers:
            worker.stop()
        return got, unknown.value

    got, unknown = asyncio.run(_with_server(service, socket_path, body))
    assert sorted(i.sequence for i in got) == list(range(1, 21))
    for issued in got:
        permission = td.Permission(1, issued.query_hash, issued.sequence, issued.issued_at)
        assert td.recover_signer(permission.digest(service.signer.permission_domain), issued.signature) == \
            service.signer.address
    assert [r.sequence for r in service.books.lookup(1, got[0].query_hash)] == [got[0].sequence]
    assert (unknown.status, unknown.code) == (404, "unknown_license")


def test_a_lost_writer_is_a_503_and_the_next_request_reconnects(licensed, socket_path):
    service = licensed

    async def hang_up(reader, writer):
        await reader.read(1)
        writer.close()

    async def body():
        broken = await asyncio.start_unix_server(hang_up, path=socket_path)
        remote = RemoteWriter(socket_path)
        with pytest.raises(Refused) as lost:
            await remote.issue(1, [secrets.token_bytes(32)])
        broken.close()
        await broken.wait_closed()
        Path(socket_path).unlink()
        return remote, lost.value

    async def then(remote):
        issued = await remote.issue(1, [secrets.token_bytes(32)])
        remote.stop()
        return issued

    remote, lost = asyncio.run(body())
    assert (lost.status, lost.code) == (503, "writer_unavailable")
    (issued,) = asyncio.run(_with_server(service, socket_path, lambda: then(remote)))
    assert issued.sequence == 1


def test_no_writer_at_all_is_a_503_not_a_hang(socket_path):
    remote = RemoteWriter(socket_path, connect_timeout=0.2)
    with pytest.raises(Refused) as refused:
        asyncio.run(remote.issue(1, [secrets.token_bytes(32)]))
    assert (refused.value.status, refused.value.code) == (503, "writer_unavailable")
