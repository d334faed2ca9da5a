"""Request ids: a client's `X-Request-Id` is kept only when it is short and plain.

An id travels into headers, logs, the prediction log and feedback joins, so a client's id
is taken only when it is at most 128 characters of `[A-Za-z0-9._:-]` (UUIDs, ULIDs,
trace ids); anything else is replaced by a fresh id, which the response returns.
"""

from __future__ import annotations

import os
import re

MAX_LENGTH = 128
_PLAIN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    return os.urandom(16).hex()


def acceptable(given: str) -> bool:
    """Whether a client's id may be kept as it is."""
    return _PLAIN.fullmatch(given) is not None


def request_id(given: str | None) -> str:
    """The client's id when it is acceptable, else a fresh 32-hex one."""
    if given and acceptable(given):
        return given
    return new_request_id()
