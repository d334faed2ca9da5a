"""MLflow's permission levels and what each allows."""

from __future__ import annotations

from dataclasses import dataclass

from trk.exceptions import InvalidParameter


@dataclass(frozen=True)
class Permission:
    name: str
    can_read: bool
    can_update: bool
    can_delete: bool
    can_manage: bool

    def allows(self, need: str) -> bool:
        """`need`: read, update, delete or manage."""
        return bool(getattr(self, f"can_{need}"))


READ = Permission("READ", True, False, False, False)
EDIT = Permission("EDIT", True, True, False, False)
MANAGE = Permission("MANAGE", True, True, True, True)
NO_PERMISSIONS = Permission("NO_PERMISSIONS", False, False, False, False)
ALL = {p.name: p for p in (READ, EDIT, MANAGE, NO_PERMISSIONS)}


def get_permission(name: str) -> Permission:
    """The permission called `name`; a 400 naming the valid ones otherwise."""
    try:
        return ALL[name]
    except (KeyError, TypeError):
        raise InvalidParameter(
            f"Invalid permission '{name}'. Valid permissions are: {tuple(ALL)}"
        ) from None
