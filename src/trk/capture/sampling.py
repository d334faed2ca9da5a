"""Which requests a capture keeps: a hash of the request id under the fraction, so every
replica keeps the same subset and a request's rows of both variants are kept together."""

from __future__ import annotations

import hashlib

from trk.exceptions import InvalidParameter

# Personalised: sticky routing hashes a header (often the request id) with plain blake2b; the
# same hash here would keep only the requests routed to one variant at a low fraction.
_PERSON = b"trk-capture"


def sample_unit(request_id: str) -> float:
    """A request id -> a number in [0, 1), the same in every process and on every host."""
    digest = hashlib.blake2b(request_id.encode("utf-8"), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def check_fraction(value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise InvalidParameter(f"--capture-sample must be within [0, 1], got {value}")
    return float(value)


def kept(request_id: str, fraction: float) -> bool:
    """Whether a request is in the sample (every request at 1, none at 0)."""
    return fraction >= 1.0 or (fraction > 0.0 and sample_unit(request_id) < fraction)
