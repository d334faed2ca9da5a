"""Each capture writer's own corner of a spool directory, and what dead writers left there.

Several writers may share one `--capture-spool-dir`: the shipper children of `trk-serve
--workers N`, and a `trk log ship --listen` sidecar, which runs one writer per connected
serving process. Each claims a slot, `writer-<k>/`, by holding an exclusive lock on its
`.lock` file for its life (the kernel drops the lock when the process dies, however it dies),
and keeps its journal and closed files there. On start a writer adopts every slot no live
writer holds: their journal segments and closed files move into its own slot, where it
recovers and publishes them as if it had left them itself. So nothing a killed writer left is
orphaned, and no writer ever reads a journal another one is still appending to.
"""

from __future__ import annotations

import fcntl
import logging
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path

log = logging.getLogger(__name__)
PREFIX = "writer-"
JOURNAL = "journal"


class Slot:
    """A claimed `writer-<k>/` under a spool root; `release()` (or the process's end) frees it."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        with _locked(root / ".adopt.lock"):  # one writer adopts at a time
            self.path, fd = _claim(root)
            moved = sum(_adopt(other, self.path) for other in _others(root, self.path))
            moved += _adopt(root, self.path, legacy=True)
        if moved:
            log.info("capture: took over %d file(s) stopped writers left in %s", moved, root)
        # A raw descriptor, closed when the slot is released or collected (no open file object
        # for the interpreter to warn about).
        self._release = weakref.finalize(self, os.close, fd)

    @property
    def journal(self) -> Path:
        return self.path / JOURNAL

    def release(self) -> None:
        self._release()  # closing the descriptor drops the lock (once: later calls do nothing)


def _claim(root: Path) -> tuple[Path, int]:
    for k in count():
        path = root / f"{PREFIX}{k}"
        path.mkdir(exist_ok=True)
        lock = _try_lock(path / ".lock")
        if lock is not None:
            return path, lock
    raise AssertionError("unreachable")


def _others(root: Path, mine: Path) -> list[Path]:
    return sorted(p for p in root.glob(f"{PREFIX}*") if p.is_dir() and p != mine)


def _adopt(other: Path, mine: Path, legacy: bool = False) -> int:
    """Move `other`'s journal segments and closed files into `mine` if no writer holds it.

    `legacy`: the spool root itself, as writers before slots left it (no lock to take)."""
    lock = None if legacy else _try_lock(other / ".lock")
    if lock is None and not legacy:
        return 0  # a live writer's
    try:
        moved = 0
        for segment in (other / JOURNAL).glob("*.jsonl"):
            (mine / JOURNAL).mkdir(exist_ok=True)
            os.replace(segment, mine / JOURNAL / segment.name)
            moved += 1
        for part in other.glob("model=*/**/part-*.parquet"):
            dest = mine / part.relative_to(other)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, dest)  # unique names: one already there is the same file
            moved += 1
        for tmp in other.glob("model=*/**/.tmp-*"):  # a file cut by a kill mid-write
            tmp.unlink(missing_ok=True)
        return moved
    finally:
        if lock is not None:
            os.close(lock)


def _try_lock(path: Path) -> int | None:
    """A descriptor of `path` holding its exclusive lock, or None when another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` for a `with` block, waited for."""
    with path.open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
