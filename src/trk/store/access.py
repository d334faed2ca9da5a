"""Users, their bearer tokens and their permissions on experiments and registered models.

The store keeps what the basic-auth app decides with; it never sees a password or a token in
clear: callers pass the argon2 hash of a password, and tokens are stored as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from trk.exceptions import AlreadyExists, NotFound
from trk.store import schema as s
from trk.store.engine import read_connection, write_connection
from trk.store.sql_base import now_ms


@dataclass(frozen=True)
class User:
    id: int
    username: str
    password_hash: str
    is_admin: bool


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    id: int
    name: str
    created_ms: int


def token_digest(token: str) -> str:
    """What is stored for a token: tokens are random, so SHA-256 is enough and is indexed."""
    return hashlib.sha256(token.encode()).hexdigest()


# (table, key column) per resource kind.
_GRANTS: dict[str, tuple[Table, str]] = {
    "experiment": (s.experiment_permissions, "experiment_id"),
    "registered_model": (s.registered_model_permissions, "name"),
}


class SqlAccess:
    """Create, read, change and delete users, tokens and grants."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- users -----------------------------------------------------------------------------
    def create_user(self, username: str, password_hash: str, is_admin: bool = False) -> User:
        values = {"username": username, "password_hash": password_hash, "is_admin": is_admin}
        try:
            with write_connection(self._engine) as conn:
                conn.execute(insert(s.users).values(**values))
        except IntegrityError:
            raise AlreadyExists(f"User {username!r} already exists") from None
        return self.get_user(username)

    def find_user(self, username: str) -> User | None:
        with read_connection(self._engine) as conn:
            row = conn.execute(select(s.users).where(s.users.c.username == username)).first()
        return None if row is None else User(row.id, row.username, row.password_hash, row.is_admin)

    def get_user(self, username: str) -> User:
        user = self.find_user(username)
        if user is None:
            raise NotFound(f"User with username={username} not found")
        return user

    def list_users(self) -> list[User]:
        with read_connection(self._engine) as conn:
            rows = conn.execute(select(s.users).order_by(s.users.c.id)).all()
        return [User(r.id, r.username, r.password_hash, r.is_admin) for r in rows]

    def update_user(self, username: str, **values: Any) -> None:
        """Set `password_hash` and/or `is_admin`."""
        with write_connection(self._engine) as conn:
            stmt = update(s.users).where(s.users.c.username == username).values(**values)
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"User with username={username} not found")

    def delete_user(self, username: str) -> None:
        user = self.get_user(username)
        with write_connection(self._engine) as conn:
            # Deleted explicitly: sqlite enforces ON DELETE CASCADE only with a pragma.
            for table in (s.user_tokens, *(t for t, _ in _GRANTS.values())):
                conn.execute(delete(table).where(table.c.user_id == user.id))
            conn.execute(delete(s.users).where(s.users.c.id == user.id))

    # -- tokens ----------------------------------------------------------------------------
    def add_token(self, username: str, name: str, token: str) -> TokenInfo:
        user, created = self.get_user(username), now_ms()
        values = {
            "user_id": user.id,
            "name": name,
            "token_hash": token_digest(token),
            "created_ms": created,
        }
        with write_connection(self._engine) as conn:
            new_id = conn.execute(insert(s.user_tokens).values(**values)).inserted_primary_key
        assert new_id is not None
        return TokenInfo(int(new_id[0]), name, created)

    def list_tokens(self, username: str) -> list[TokenInfo]:
        user = self.get_user(username)
        t = s.user_tokens
        with read_connection(self._engine) as conn:
            rows = conn.execute(select(t).where(t.c.user_id == user.id).order_by(t.c.id)).all()
        return [TokenInfo(r.id, r.name, r.created_ms) for r in rows]

    def revoke_token(self, username: str, token_id: int) -> None:
        user = self.get_user(username)
        t = s.user_tokens
        with write_connection(self._engine) as conn:
            stmt = delete(t).where(t.c.user_id == user.id, t.c.id == token_id)
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"User {username!r} has no token {token_id}")

    def user_for_token(self, token: str) -> User | None:
        t, u = s.user_tokens, s.users
        stmt = select(u).join(t, t.c.user_id == u.c.id).where(t.c.token_hash == token_digest(token))
        with read_connection(self._engine) as conn:
            row = conn.execute(stmt).first()
        return None if row is None else User(row.id, row.username, row.password_hash, row.is_admin)

    # -- grants ----------------------------------------------------------------------------
    def grant(self, kind: str, key: str, username: str, permission: str) -> None:
        """A new grant; AlreadyExists when the user has one on that resource."""
        table, column = _GRANTS[kind]
        user = self.get_user(username)
        try:
            with write_connection(self._engine) as conn:
                conn.execute(
                    insert(table).values(
                        {column: key, "user_id": user.id, "permission": permission}
                    )
                )
        except IntegrityError:
            raise AlreadyExists(f"{kind} permission ({key}, {username}) already exists") from None

    def get_grant(self, kind: str, key: str, username: str) -> str | None:
        """The user's permission name on the resource, None without a grant."""
        table, column = _GRANTS[kind]
        stmt = (
            select(table.c.permission)
            .join(s.users, s.users.c.id == table.c.user_id)
            .where(table.c[column] == key, s.users.c.username == username)
        )
        with read_connection(self._engine) as conn:
            return conn.execute(stmt).scalar()

    def grants_of(self, kind: str, username: str) -> dict[str, str]:
        """Every grant of the user on that kind of resource: key -> permission."""
        table, column = _GRANTS[kind]
        stmt = (
            select(table.c[column], table.c.permission)
            .join(s.users, s.users.c.id == table.c.user_id)
            .where(s.users.c.username == username)
        )
        with read_connection(self._engine) as conn:
            return {str(k): p for k, p in conn.execute(stmt)}

    def set_grant(self, kind: str, key: str, username: str, permission: str) -> None:
        """Change an existing grant (NotFound without one)."""
        table, column = _GRANTS[kind]
        user = self.get_user(username)
        with write_connection(self._engine) as conn:
            stmt = (
                update(table)
                .where(table.c[column] == key, table.c.user_id == user.id)
                .values(permission=permission)
            )
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"{kind} permission ({key}, {username}) not found")

    def revoke(self, kind: str, key: str, username: str | None = None) -> None:
        """Delete the user's grant (NotFound without one), or every grant on the resource."""
        table, column = _GRANTS[kind]
        stmt = delete(table).where(table.c[column] == key)
        if username is not None:
            stmt = stmt.where(table.c.user_id == self.get_user(username).id)
        with write_connection(self._engine) as conn:
            if conn.execute(stmt).rowcount == 0 and username is not None:
                raise NotFound(f"{kind} permission ({key}, {username}) not found")

    def rename_model(self, old: str, new: str) -> None:
        """Grants follow a renamed registered model."""
        t = s.registered_model_permissions
        with write_connection(self._engine) as conn:
            conn.execute(update(t).where(t.c.name == old).values(name=new))
