"""An M.oml directory as a streamed tar (no temporary archive, constant memory), and a safe
extraction that accepts regular files and directories only, every one inside the target."""
from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

BLOCK = tarfile.BLOCKSIZE  # 512
CHUNK = 1 << 20


class UnsafeArchive(ValueError):
    """The tar holds a link, a device, an absolute path or a path that climbs out of the target."""


def _files(directory: Path) -> list[Path]:
    # regular files only: a symlink in the models directory must not leak what it points at
    return sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink())


def tar_stream(directory: str | Path) -> Iterator[bytes]:
    """The tar of `directory`'s regular files (paths relative to it), in chunks of at most 1 MiB."""
    directory = Path(directory)
    for path in _files(directory):
        info = tarfile.TarInfo(path.relative_to(directory).as_posix())
        stat = path.stat()
        info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o644
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        sent = 0
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                sent += len(chunk)
                yield chunk
        if sent != info.size:
            raise RuntimeError(f"{path} changed size while it was being sent")
        if info.size % BLOCK:
            yield b"\0" * (BLOCK - info.size % BLOCK)
    yield b"\0" * (2 * BLOCK)  # end of archive


def _check_member(member: tarfile.TarInfo) -> None:
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchive(f"{member.name!r} is not a regular file or directory")
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or not name.parts or "\\" in member.name:
        raise UnsafeArchive(f"{member.name!r} would land outside the target directory")


def safe_extract(archive: str | Path, target: str | Path, max_bytes: int = 1 << 36) -> None:
    """Extracts `archive` into `target` after checking every member (UnsafeArchive otherwise)."""
    target = Path(target)
    with tarfile.open(archive, "r:") as tar:
        members = tar.getmembers()
        total = 0
        for member in members:
            _check_member(member)
            total += member.size
        if total > max_bytes:
            raise UnsafeArchive(f"the archive unpacks to {total} bytes, more than {max_bytes}")
        target.mkdir(parents=True, exist_ok=True)
        # the "data" filter re-checks paths and strips modes that matter, belt and braces
        tar.extractall(target, members=members, filter="data")
