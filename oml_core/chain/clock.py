"""Protocol time: the clock σ issue times, answer receipts and verifiers' sightings are stamped with.

The contracts compare those stamps with block timestamps (a σ must be issued no earlier than
its license began; a claim opens only a clock skew after its answer was served). On a live chain
block time follows wall time within seconds, so wall time is the protocol time. A development
chain can run ahead of wall time (anvil's evm_increaseTime, used to end challenge windows and
activation delays in seconds): then the stamps follow the chain, or a license acquired after a
time jump would appear to begin after the σ and answers it covers. The clock never runs behind
wall time, so a stalled or lagging node cannot push stamps into the past.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable


def next_block_timestamp(w3) -> int:
    """The time the chain would give a block now: the pending block's (anvil and most nodes build
    one), else the latest block's. The latest alone lags on an idle dev chain, which mines only
    when a transaction comes, and would make services that read it at different moments disagree."""
    try:
        return int(w3.eth.get_block("pending")["timestamp"])
    except Exception:  # noqa: BLE001 - a node without a pending block: the latest one will do
        return int(w3.eth.get_block("latest")["timestamp"])


class ChainClock:
    """max(wall time, the chain head's timestamp advanced by the wall time since it was read).

    The head is re-read at most every `refresh_s` seconds; a failed read keeps the last one.
    Callable: `clock()` returns seconds as a float, like `time.time`.
    """

    def __init__(self, head_timestamp: Callable[[], int], refresh_s: float = 0.5,
                 wall: Callable[[], float] = time.time):
        self._head_timestamp, self._refresh_s, self._wall = head_timestamp, refresh_s, wall
        self._lock = threading.Lock()
        self._offset = 0.0  # how far the chain is ahead of wall time (never negative)
        self._read_at: float | None = None

    @classmethod
    def of(cls, w3, refresh_s: float = 0.5) -> ChainClock:
        return cls(lambda: next_block_timestamp(w3), refresh_s)

    def __call__(self) -> float:
        wall = self._wall()
        with self._lock:
            if self._read_at is None or wall - self._read_at >= self._refresh_s:
                self._refresh(wall)
            return wall + self._offset

    def observe(self, block_timestamp: int) -> None:
        """A block time seen elsewhere (the permission service's chain mirror): the clock reaches
        it at once, so what is stamped after a block was seen is never dated before that block."""
        with self._lock:
            self._offset = max(self._offset, block_timestamp - self._wall())

    def _refresh(self, wall: float) -> None:
        try:
            head = self._head_timestamp()
        except Exception:  # noqa: BLE001 - an unreachable node: keep the last offset, retry later
            self._read_at = wall
            return
        self._offset = max(0.0, head - wall)
        self._read_at = wall
