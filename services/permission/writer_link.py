"""One σ writer process for several HTTP worker processes, over a Unix socket.

With `oml permission serve --workers N` the HTTP workers do not each run a PermissionWriter.
Each one would hold the database's write lock while competing for its own interpreter lock with
its busy event loop, so the lock was held far longer than the work in it: two workers served
fewer σ than one. Instead one writer process (nothing else runs in it) does every group commit,
and the workers send it (license, query hashes) and wait for the σ it stored.

Wire format, little-endian, each frame prefixed by its length (uint32):
  request  = id u64 | license_id 32 bytes big-endian | count u32 | count × 32-byte query hash
  response = id u64 | 0 | count u32 | count × (sequence u64, issued_at u64, epoch u64,
                                               signature 65 bytes, leaf 32 bytes)
           | id u64 | 1 | status u16 | JSON {"error": code, "detail": text}
A response is sent only after the transaction holding its σ has committed, exactly as the
in-process writer completes its futures. A worker that loses the connection fails the requests
it was waiting for with 503 (their σ may or may not be stored, as with any lost reply) and
reconnects on the next request.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import struct

from services.common.errors import Refused
from services.permission.issuance import (
    WRITER_TIMEOUT_S,
    Issued,
    PermissionWriter,
    await_future,
    writer_timeout,
)

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("<I")
_HEAD = struct.Struct("<QB")
_COUNT = struct.Struct("<I")
_ISSUED = struct.Struct("<QQQ65s32s")
_STATUS = struct.Struct("<H")
MAX_FRAME = 16 << 20
CONNECT_TIMEOUT_S = 10.0


def _frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes")
    return await reader.readexactly(length)


def encode_request(request_id: int, license_id: int, query_hashes: list[bytes]) -> bytes:
    return _frame(struct.pack("<Q", request_id) + license_id.to_bytes(32, "big")
                  + _COUNT.pack(len(query_hashes)) + b"".join(query_hashes))


def decode_request(payload: bytes) -> tuple[int, int, list[bytes]]:
    (request_id,) = struct.unpack_from("<Q", payload)
    license_id = int.from_bytes(payload[8:40], "big")
    (count,) = _COUNT.unpack_from(payload, 40)
    hashes = [payload[44 + 32 * i:76 + 32 * i] for i in range(count)]
    if len(payload) != 44 + 32 * count:
        raise ValueError("malformed σ request frame")
    return request_id, license_id, hashes


def encode_issued(request_id: int, issued: list[Issued]) -> bytes:
    return _frame(_HEAD.pack(request_id, 0) + _COUNT.pack(len(issued)) + b"".join(
        _ISSUED.pack(i.sequence, i.issued_at, i.epoch, i.signature, i.leaf) for i in issued))


def encode_refusal(request_id: int, refusal: Refused) -> bytes:
    return _frame(_HEAD.pack(request_id, 1) + _STATUS.pack(refusal.status)
                  + json.dumps(refusal.as_json()).encode())


def decode_response(payload: bytes, license_id: int, query_hashes: list[bytes]) -> list[Issued]:
    """The σ of a response frame, or raises the refusal it carries."""
    _request_id, kind = _HEAD.unpack_from(payload)
    if kind == 1:
        (status,) = _STATUS.unpack_from(payload, _HEAD.size)
        body = json.loads(payload[_HEAD.size + _STATUS.size:])
        raise Refused(status, body["error"], body["detail"])
    (count,) = _COUNT.unpack_from(payload, _HEAD.size)
    if count != len(query_hashes):
        raise Refused(503, "writer_error", f"the writer answered {count} σ for {len(query_hashes)} queries")
    issued, offset = [], _HEAD.size + _COUNT.size
    for query_hash in query_hashes:
        sequence, issued_at, epoch, signature, leaf = _ISSUED.unpack_from(payload, offset)
        offset += _ISSUED.size
        issued.append(Issued(license_id, query_hash, sequence, issued_at, epoch, signature, leaf))
    return issued


def response_id(payload: bytes) -> int:
    return _HEAD.unpack_from(payload)[0]


# --------------------------------------------------------------------------- writer process side


class WriterServer:
    """Serves a PermissionWriter on a Unix socket (in the writer process's event loop)."""

    def __init__(self, writer: PermissionWriter, socket_path: str):
        self.writer, self.socket_path = writer, socket_path

    async def serve(self, stop: asyncio.Event) -> None:
        server = await asyncio.start_unix_server(self._connection, path=self.socket_path)
        os.chmod(self.socket_path, 0o600)  # only this user's processes may ask for σ
        async with server:
            await stop.wait()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pending: set[asyncio.Task] = set()
        try:
            while True:
                payload = await _read_frame(reader)
                task = asyncio.create_task(self._answer(payload, writer))
                pending.add(task)
                task.add_done_callback(pending.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker went away; σ still in flight are committed all the same
        except ValueError as exc:
            log.warning("closing a writer connection: %s", exc)
        finally:
            if pending:
                await asyncio.wait(pending)
            writer.close()

    async def _answer(self, payload: bytes, writer: asyncio.StreamWriter) -> None:
        request_id, license_id, hashes = decode_request(payload)
        try:
            frame = encode_issued(request_id, await await_future(self.writer.submit(license_id, hashes)))
        except Refused as refusal:
            frame = encode_refusal(request_id, refusal)
        if not writer.is_closing():
            writer.write(frame)


def run_writer_process(socket_path: str) -> None:
    """The writer process's main: settings from the environment (as the workers read them)."""
    from services.permission.config import Settings
    from services.permission.db.session import Database
    from services.permission.service import domains
    from services.permission.signer import Signer, load_private_key

    settings = Settings()
    permission_domain, voucher_domain = domains(settings)
    db = Database(settings.database_url)
    writer = PermissionWriter(db, Signer(load_private_key(settings), permission_domain, voucher_domain),
                              settings.epoch_seconds, settings.group_commit_max)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        writer.start()
        try:
            await WriterServer(writer, socket_path).serve(stop)
        finally:
            writer.stop()
            db.dispose()

    asyncio.run(main())


# --------------------------------------------------------------------------- worker side


class RemoteWriter:
    """What a worker's routes use instead of a PermissionWriter: `await issue(...)`."""

    def __init__(self, socket_path: str, connect_timeout: float = CONNECT_TIMEOUT_S):
        self.socket_path, self.connect_timeout = socket_path, connect_timeout
        self._stream: asyncio.StreamWriter | None = None
        self._connecting: asyncio.Lock | None = None
        self._waiting: dict[int, tuple[asyncio.StreamWriter, asyncio.Future]] = {}
        self._next_id = 0

    def start(self) -> None:
        """Connections are made on the first request, on the loop that serves it."""

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    async def issue(self, license_id: int, query_hashes: list[bytes]) -> list[Issued]:
        stream = await self._connected()
        self._next_id += 1
        request_id = self._next_id
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (stream, waiter)
        stream.write(encode_request(request_id, license_id, query_hashes))
        try:
            payload = await asyncio.wait_for(waiter, WRITER_TIMEOUT_S)
        except TimeoutError:
            raise writer_timeout() from None
        finally:
            self._waiting.pop(request_id, None)
        return decode_response(payload, license_id, query_hashes)

    async def _connected(self) -> asyncio.StreamWriter:
        if self._stream is not None and not self._stream.is_closing():
            return self._stream
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._stream is None or self._stream.is_closing():
                reader, self._stream = await self._open()
                asyncio.get_running_loop().create_task(self._read(reader, self._stream))
        return self._stream

    async def _open(self):
        # The writer process starts next to the workers: give it a moment to listen.
        deadline = asyncio.get_running_loop().time() + self.connect_timeout
        while True:
            try:
                return await asyncio.open_unix_connection(self.socket_path)
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise Refused(503, "writer_unavailable", "the σ writer process is not reachable") from None
                await asyncio.sleep(0.05)

    async def _read(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        try:
            while True:
                payload = await _read_frame(reader)
                _, waiter = self._waiting.get(response_id(payload), (None, None))
                if waiter is not None and not waiter.done():
                    waiter.set_result(payload)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            if self._stream is stream:
                self._stream = None
            stream.close()
            lost = Refused(503, "writer_unavailable", "lost the σ writer process; retry")
            for on, waiter in list(self._waiting.values()):
                if on is stream and not waiter.done():
                    waiter.set_exception(lost)
