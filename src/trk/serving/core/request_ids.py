"""Request ids: a client's `X-Request-Id` is kept only when it is short and plain.

An id travels into headers, logs, the prediction log and feedback joins, so a client's id
is taken only when it is at most 128 characters of `[A-Za-z0-9._:-]` (UUIDs, ULIDs,
trace ids); anything else is replaced by a fresh id, which the response returns.
"""

from __future__ import annotations

import os
import re
import time

MAX_LENGTH = 128
_PLAIN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id(at: float | None = None) -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: the millisecond first, then 74 random bits.

    `at`: the request's arrival as `time.perf_counter()`, the one clock read a request
    makes; its millisecond is then that read plus the wall clock's offset taken when this
    module loaded (a later step of the wall clock shifts new ids, not their order).

    Time-ordered on purpose: the shared prediction log is keyed by request id, and random
    keys land all over its index (on sqlite the writer's cost per answer grew from 15 us in
    an empty log to 38 us at 600,000 rows); keys that grow with time append at the index's
    edge (12 and 14 us).
    """
    ms = time.time_ns() // 1_000_000 if at is None else int((at + _WALL_OFFSET) * 1000)
    value = ms << 80 | _random_80()
    value = value & _CLEAR | _VERSION_7 | _VARIANT_RFC
    return f"{value:032x}"


_WALL_OFFSET = time.time() - time.perf_counter()
_PER_READ = 256  # random numbers cut from one read of the OS's generator
_randoms: list[int] = []


def _random_80() -> int:
    """80 random bits from the OS's generator, read 256 ids at a time (one `getrandom` per
    id cost ~0.7 us here, a syscall in a VM). `pop` is atomic under the GIL, so two threads
    never share a number; a forked worker starts with none of its parent's."""
    try:
        return _randoms.pop()
    except IndexError:
        block = os.urandom(10 * _PER_READ)
        _randoms.extend(int.from_bytes(block[i : i + 10], "big") for i in range(0, len(block), 10))
        return _randoms.pop()


os.register_at_fork(after_in_child=_randoms.clear)
_VERSION_7, _VARIANT_RFC = 0x7 << 76, 0x2 << 62
_CLEAR = ~(0xF << 76 | 0x3 << 62)


def acceptable(given: str) -> bool:
    """Whether a client's id may be kept as it is."""
    return _PLAIN.fullmatch(given) is not None


def request_id(given: str | None, at: float | None = None) -> str:
    """The client's id when it is acceptable, else a fresh 32-hex one (`at`: see
    `new_request_id`)."""
    if given and acceptable(given):
        return given
    return new_request_id(at)
