"""Progress bars for long loops (tqdm on stderr), off in tests and pipes unless asked for."""
from __future__ import annotations

from collections.abc import Iterable


def track(items: Iterable, description: str, enabled: bool = True, total: int | None = None):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, total=total, leave=False)
