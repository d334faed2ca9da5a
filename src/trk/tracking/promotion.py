"""Alias moves behind `trk models promote` and `trk models rollback`.

promote NAME:  champion <- the version `challenger` points at; previous <- the old champion.
rollback NAME: champion <- the version `previous` points at; previous <- the demoted
               champion (a swap, so a second rollback undoes the first).

Each alias write is one atomic upsert in the store. The writes are ordered so that
`champion` always points at a version: a serving reloader never finds it missing, only
old or new. `challenger` is left where it is (after a promotion it names the champion's
version, which a shadow server then compares with itself until the alias moves on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trk.exceptions import NotFound
from trk.serving_contract import CHALLENGER, CHAMPION, PREVIOUS

if TYPE_CHECKING:
    from trk.tracking.client import Client


@dataclass(frozen=True)
class AliasMove:
    """What a promote or rollback did (or why it did nothing)."""

    name: str
    moved: bool
    champion_before: str | None
    champion_after: str | None
    previous_after: str | None
    message: str


def alias_version(client: Client, name: str, alias: str) -> str | None:
    """The version `alias` points at, or None when the alias is not set."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except NotFound:
        return None


def _required(client: Client, name: str, alias: str, why: str) -> str:
    client.get_registered_model(name)  # NotFound names the model
    version = alias_version(client, name, alias)
    if version is None:
        raise NotFound(f"Model {name!r} has no {alias!r} alias: {why}")
    return version


def promote(client: Client, name: str) -> AliasMove:
    """champion <- challenger's version, keeping the old champion as `previous`."""
    target = _required(client, name, CHALLENGER, "nothing to promote")
    old = alias_version(client, name, CHAMPION)
    if old == target:
        return AliasMove(
            name,
            False,
            old,
            old,
            alias_version(client, name, PREVIOUS),
            f"{name} version {target} is already the champion",
        )
    if old is not None:
        # previous first: if the second write fails, champion is unchanged and still set
        client.set_registered_model_alias(name, PREVIOUS, old)
    client.set_registered_model_alias(name, CHAMPION, target)
    previous = old if old is not None else alias_version(client, name, PREVIOUS)
    return AliasMove(
        name,
        True,
        old,
        target,
        previous,
        f"{name}@champion: v{old} -> v{target} (previous -> v{old})",
    )


def rollback(client: Client, name: str) -> AliasMove:
    """champion <- previous's version; previous <- the demoted champion."""
    target = _required(client, name, PREVIOUS, "nothing to roll back to")
    old = alias_version(client, name, CHAMPION)
    if old == target:
        return AliasMove(
            name, False, old, old, target, f"{name} version {target} is already the champion"
        )
    # champion first: the rollback that matters lands even if the second write fails
    client.set_registered_model_alias(name, CHAMPION, target)
    if old is not None:
        client.set_registered_model_alias(name, PREVIOUS, old)
    return AliasMove(
        name,
        True,
        old,
        target,
        old if old is not None else target,
        f"{name}@champion: v{old} -> v{target} (previous -> v{old})",
    )
