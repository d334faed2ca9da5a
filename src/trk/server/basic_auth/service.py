"""`AccessControl`: who the caller is and what they may do, over the store's users and grants.

Transport-free: the guard (the ASGI middleware) asks it; the user and permission endpoints
and the dashboard use it too. MLflow's semantics: admins may do anything; anyone else has
their grant on the resource, else the configured default permission.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

from trk import actor as acting
from trk.contracts.rollouts import AWAITING_APPROVAL
from trk.exceptions import AlreadyExists, InvalidParameter, NotFound, PermissionDenied, TrkError
from trk.server.basic_auth import rules
from trk.server.basic_auth.config import AuthConfig
from trk.server.basic_auth.passwords import hash_password, verify_password
from trk.server.basic_auth.permissions import MANAGE, Permission, get_permission
from trk.store.access import SqlAccess, User

_CACHE_TTL_S = 60.0
_CACHE_MAX = 10_000
KINDS = {
    rules.MODEL: "registered_model",
    rules.MODEL_PARAM: "registered_model",
    rules.ROLLOUT_MODEL: "registered_model",
}


class AccessControl:
    """Authenticate requests and decide permissions for one server."""

    def __init__(
        self, store: object, config: AuthConfig, protected: frozenset[str] = frozenset()
    ) -> None:
        access = getattr(store, "access", None)
        if not isinstance(access, SqlAccess):
            raise InvalidParameter("--app-name basic-auth needs a SQL backend store")
        self.store = store
        self.access = access
        self.config = config
        self.protected = protected
        self.default = get_permission(config.default_permission)
        # Verified (user, password) pairs, keyed by an HMAC under a key that dies with the
        # process: argon2 costs ~50 ms and 64 MiB per check, too much for every request. An
        # entry holds only while the stored hash is the one it was verified against, so a
        # password change or a deleted user takes effect at once.
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, tuple[str, float]] = {}

    # -- the admin -------------------------------------------------------------------------
    def bootstrap_admin(self) -> None:
        """Create the configured admin on first start (the password from the config file or
        MLFLOW_AUTH_ADMIN_PASSWORD); later starts leave users as they are."""
        name, password = self.config.admin_username, self.config.admin_password
        if name is None or self.access.find_user(name) is not None:
            return
        if not password:
            raise InvalidParameter(
                f"The basic-auth admin {name!r} does not exist yet and no password was given: "
                "set admin_password in MLFLOW_AUTH_CONFIG_PATH or MLFLOW_AUTH_ADMIN_PASSWORD"
            )
        try:
            self.access.create_user(name, hash_password(password), is_admin=True)
        except AlreadyExists:
            pass  # another worker made it meanwhile

    # -- who -------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> User | None:
        """The user `Authorization: Basic ...` or `Bearer <user token>` names, else None."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and value:
            return self.access.user_for_token(value.strip())
        if scheme.lower() != "basic" or not value:
            return None
        try:
            username, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user = self.access.find_user(username) if sep and username else None
        if user is None or not self._password_ok(user, password):
            return None
        return user

    def _password_ok(self, user: User, password: str) -> bool:
        key = hmac.digest(self._key, f"{user.username}\0{password}".encode(), hashlib.sha256)
        cached = self._verified.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] == user.password_hash and cached[1] > now:
            return True
        if not verify_password(user.password_hash, password):
            return False
        if len(self._verified) >= _CACHE_MAX:
            self._verified.clear()
        self._verified[key] = (user.password_hash, now + _CACHE_TTL_S)
        return True

    # -- what ------------------------------------------------------------------------------
    def permission(self, user: User, kind: str, key: str | None) -> Permission:
        """The user's permission on one experiment ("experiment") or registered model."""
        if user.is_admin:
            return MANAGE
        if key is None:
            return self.default
        grant = self.access.get_grant(kind, str(key), user.username)
        return self.default if grant is None else get_permission(grant)

    def readable(self, user: User, kind: str, keys: Iterable[str]) -> set[str]:
        """Which of `keys` the user may read (one query for all)."""
        keys = [str(k) for k in keys]
        if user.is_admin:
            return set(keys)
        grants = self.access.grants_of(kind, user.username)
        return {k for k in keys if get_permission(grants.get(k, self.default.name)).can_read}

    def can_read_current(self, kind: str, key: str) -> bool:
        """Whether the request's signed-in user may read the resource (the dashboard)."""
        who = acting.current()
        user = None if who is None else self.access.find_user(who.name)
        return user is not None and str(key) in self.readable(user, kind, [str(key)])

    def experiment_of_run(self, run_id: str) -> str | None:
        return self._lookup(lambda: self.store.get_run(run_id).info.experiment_id)  # type: ignore[attr-defined]

    def experiment_of_logged_model(self, model_id: str) -> str | None:
        return self._lookup(lambda: self.store.get_logged_model(model_id).experiment_id)  # type: ignore[attr-defined]

    def experiment_by_name(self, name: str) -> str | None:
        def find() -> str | None:
            found = self.store.get_experiment_by_name(name)  # type: ignore[attr-defined]
            return None if found is None else found.experiment_id

        return self._lookup(find)

    @staticmethod
    def _lookup(find: object) -> str | None:
        """The key, or None when the resource is missing or the id malformed: the default
        permission then decides, and the handler answers its own 404 or 400."""
        try:
            found = find()  # type: ignore[operator]
        except (NotFound, TrkError):
            return None
        return None if found is None else str(found)

    def grant_creator(self, kind: str, key: str, username: str) -> None:
        """The creator of an experiment or registered model gets MANAGE on it."""
        try:
            self.access.grant(kind, key, username, MANAGE.name)
        except AlreadyExists:
            self.access.set_grant(kind, key, username, MANAGE.name)

    def rollout_approval(self, user: User, name: str, alias: str, version: str) -> acting.Actor:
        """Who a protected alias move acts as: allowed only as the approval of a rollout that
        waits for it (its final promotion) by a user with MANAGE other than its starter."""
        refused = PermissionDenied(
            f"Permission denied: alias {alias!r} is protected; it moves only through a promotion "
            f"request approved by a second user with MANAGE (trk models request-promotion {name} "
            f"VERSION --alias {alias}, then trk models approve-promotion), or as the approval of a "
            "rollout waiting for it (trk rollout approve)"
        )
        try:
            rollout = self.store.rollouts.get(name, history=False)  # type: ignore[attr-defined]
        except TrkError:
            raise refused from None
        waiting = rollout.state == AWAITING_APPROVAL and str(rollout.challenger_version) == version
        asked = [
            r
            for r in self.store.promotions.requests(name, pending_only=True)  # type: ignore[attr-defined]
            if r.alias == alias and str(r.version) == version
        ]
        if not waiting or not asked:
            raise refused
        if asked[-1].requested_by == user.username:
            raise PermissionDenied(
                f"Permission denied: {user.username!r} started the rollout of {name} and cannot "
                "approve its promotion; another user with MANAGE on the model must (four eyes)"
            )
        if not self.permission(user, "registered_model", name).can_manage:
            raise PermissionDenied(f"Permission denied: approving needs MANAGE on {name}")
        request = asked[-1]
        return acting.Actor(
            request.requested_by, approver=user.username, request_id=request.request_id
        )
