"""Request ids for requests that come without one: unique per process, cheap per request.

A random prefix drawn once per process (each uvicorn worker draws its own) and a counter:
32 hex characters like a uuid4's, unique across replicas and restarts. Drawing 16 random
bytes per request instead measured ~50 us on these VMs, where getrandom is slow: more than
the rest of trk's work on a one-row request.
"""

from __future__ import annotations

import itertools
import secrets

_PREFIX = secrets.token_hex(8)
_COUNTER = itertools.count(1)  # next() is atomic under the GIL: safe from any thread


def new_request_id() -> str:
    return f"{_PREFIX}{next(_COUNTER):016x}"
