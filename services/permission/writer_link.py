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
import threading
from concurrent.futures import Future

from services.common.errors import Refused
from services.permission.issuance import WRITER_TIMEOUT_S, Issued, PermissionWriter, expire

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


def encode_request(request_id: int, license_id: int, query_hashes: list[bytes]) -> bytes:
    return _frame(struct.pack("<Q", request_id) + license_id.to_bytes(32, "big")
                  + _COUNT.pack(len(query_hashes)) + b"".join(query_hashes))


def decode_request(payload: bytes) -> tuple[int, int, list[bytes]]:
    if len(payload) < 44:
        raise ValueError("malformed σ request frame")
    (request_id,) = struct.unpack_from("<Q", payload)
    license_id = int.from_bytes(payload[8:40], "big")
    (count,) = _COUNT.unpack_from(payload, 40)
    if len(payload) != 44 + 32 * count:  # checked before slicing: `count` comes from the wire
        raise ValueError("malformed σ request frame")
    return request_id, license_id, [payload[44 + 32 * i:76 + 32 * i] for i in range(count)]


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


class _Frames:
    """Splits a byte stream into length-prefixed payloads."""

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        payloads = []
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > MAX_FRAME:
                raise ValueError(f"frame of {length} bytes")
            end = _LENGTH.size + length
            if len(self._buffer) < end:
                break
            payloads.append(bytes(self._buffer[_LENGTH.size:end]))
            del self._buffer[:end]
        return payloads


class _WriterConnection(asyncio.Protocol):
    """One worker's connection, in the writer process.

    Requests go straight to the PermissionWriter's queue; its thread encodes each answer as the
    group commits and queues the frame here. One loop wake-up then writes every queued frame at
    once, so a group of σ costs one wake-up and one send per worker, not one per request.
    """

    def __init__(self, writer: PermissionWriter, loop: asyncio.AbstractEventLoop):
        self.writer, self.loop = writer, loop
        self.frames = _Frames()
        self.transport: asyncio.Transport | None = None
        self._outgoing: list[bytes] = []
        self._lock = threading.Lock()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None  # σ in flight still commit; their answers are dropped

    def data_received(self, data: bytes) -> None:
        try:
            payloads = self.frames.feed(data)
            requests = [decode_request(p) for p in payloads]
        except ValueError as exc:
            log.warning("closing a writer connection: %s", exc)
            self.transport.close()
            return
        for request_id, license_id, hashes in requests:
            self.writer.submit(license_id, hashes).add_done_callback(
                lambda future, request_id=request_id: self._answer(request_id, future))

    def _answer(self, request_id: int, future: Future) -> None:  # on the writer thread
        exc = future.exception()
        if exc is None:
            frame = encode_issued(request_id, future.result())
        elif isinstance(exc, Refused):
            frame = encode_refusal(request_id, exc)
        else:
            frame = encode_refusal(request_id, Refused(503, "writer_error", type(exc).__name__))
        with self._lock:
            self._outgoing.append(frame)
            first = len(self._outgoing) == 1
        if first:
            self.loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:  # on the loop
        with self._lock:
            frames, self._outgoing = self._outgoing, []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(frames))


class WriterServer:
    """Serves a PermissionWriter on a Unix socket (in the writer process's event loop)."""

    def __init__(self, writer: PermissionWriter, socket_path: str):
        self.writer, self.socket_path = writer, socket_path

    async def serve(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(lambda: _WriterConnection(self.writer, loop), path=self.socket_path)
        os.chmod(self.socket_path, 0o600)  # only this user's processes may ask for σ
        async with server:
            await stop.wait()


def run_writer_process(socket_path: str) -> None:
    """The writer process's main: settings from the environment (as the workers read them)."""
    from services.common.database import Database
    from services.permission.config import Settings
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


class _WorkerConnection(asyncio.Protocol):
    """A worker's connection to the writer: answers resolve the waiting requests' futures."""

    def __init__(self, on_lost):
        self.frames = _Frames()
        self.transport: asyncio.Transport | None = None
        self.waiting: dict[int, asyncio.Future] = {}
        self._on_lost = on_lost

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            payloads = self.frames.feed(data)
        except ValueError:
            self.transport.close()
            return
        for payload in payloads:
            waiter = self.waiting.pop(response_id(payload), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(payload)

    def connection_lost(self, exc) -> None:
        self._on_lost(self)
        lost = Refused(503, "writer_unavailable", "lost the σ writer process; retry")
        for waiter in self.waiting.values():
            if not waiter.done():
                waiter.set_exception(lost)
        self.waiting.clear()


class RemoteWriter:
    """What a worker's routes use instead of a PermissionWriter: `await issue(...)`."""

    def __init__(self, socket_path: str, connect_timeout: float = CONNECT_TIMEOUT_S):
        self.socket_path, self.connect_timeout = socket_path, connect_timeout
        self._connection: _WorkerConnection | None = None
        self._connecting: asyncio.Lock | None = None
        self._next_id = 0

    def start(self) -> None:
        """Connections are made on the first request, on the loop that serves it."""

    def stop(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._connection = None

    async def issue(self, license_id: int, query_hashes: list[bytes]) -> list[Issued]:
        connection = self._connection or await self._connect()
        loop = asyncio.get_running_loop()
        self._next_id += 1
        request_id = self._next_id
        waiter = loop.create_future()
        connection.waiting[request_id] = waiter
        connection.transport.write(encode_request(request_id, license_id, query_hashes))
        timer = loop.call_later(WRITER_TIMEOUT_S, expire, waiter)
        try:
            payload = await waiter
        finally:
            timer.cancel()
            connection.waiting.pop(request_id, None)
        return decode_response(payload, license_id, query_hashes)

    async def _connect(self) -> _WorkerConnection:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._connection is None:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self.connect_timeout
                while True:  # the writer process starts next to the workers: give it a moment to listen
                    try:
                        _, self._connection = await loop.create_unix_connection(
                            lambda: _WorkerConnection(self._lost), self.socket_path)
                        break
                    except OSError:
                        if loop.time() > deadline:
                            raise Refused(503, "writer_unavailable",
                                          "the σ writer process is not reachable") from None
                        await asyncio.sleep(0.05)
        return self._connection

    def _lost(self, connection: _WorkerConnection) -> None:
        if self._connection is connection:
            self._connection = None  # the next request reconnects
