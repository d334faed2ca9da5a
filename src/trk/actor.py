"""Who is acting in the current request: set at the edge, read by the evidence writers.

The basic-auth middleware knows the signed-in user; the registry that records an alias move
and the webhook that announces it sit several layers below, behind handlers that take only
their parameters. A context variable carries the identity down the one request (it follows
the request into the thread pool), as a request id would, instead of widening every store
signature. Outside a request nobody is set and writers record the local user instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """`name` acts; `approver` and `request_id` when a promotion request is being carried out."""

    name: str
    approver: str | None = None
    request_id: str | None = None


_current: ContextVar[Actor | None] = ContextVar("trk_actor", default=None)


def current() -> Actor | None:
    """The actor of the current request, or None outside one."""
    return _current.get()


@contextmanager
def acting_as(actor: Actor | None) -> Iterator[None]:
    """Run the block as `actor` (None: nobody in particular)."""
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)
