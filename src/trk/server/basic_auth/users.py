"""The basic-auth app's REST API: users, experiment and registered-model permissions (as
MLflow's), and trk's per-user bearer tokens. The guard has already decided who may call."""

from __future__ import annotations

import secrets
from typing import Any

from trk import actor as acting
from trk.contracts.api import access as api
from trk.exceptions import InvalidParameter, NotFound, PermissionDenied, Unauthenticated
from trk.server.basic_auth.passwords import hash_password, verify_password
from trk.server.basic_auth.permissions import get_permission
from trk.server.basic_auth.service import AccessControl
from trk.server.endpoint import Endpoint, ServerContext
from trk.store.access import User

CONTROL = "access_control"  # ServerContext.extras key
DEFAULT_WORKSPACE = "default"
_KINDS = {"experiment": "experiment_id", "registered_model": "name"}


def control(ctx: ServerContext) -> AccessControl:
    found: AccessControl = ctx.extras[CONTROL]
    return found


def caller(ctx: ServerContext) -> User:
    """The signed-in user (the guard set who acts)."""
    who = acting.current()
    if who is None:
        raise Unauthenticated("You are not authenticated.")
    return control(ctx).access.get_user(who.name)


def _user_json(ctx: ServerContext, user: User) -> dict[str, Any]:
    access = control(ctx).access
    exp = access.grants_of("experiment", user.username)
    models = access.grants_of("registered_model", user.username)
    return {
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        "experiment_permissions": [
            {"experiment_id": k, "user_id": user.id, "permission": p} for k, p in exp.items()
        ],
        "registered_model_permissions": [
            {"name": k, "user_id": user.id, "permission": p} for k, p in models.items()
        ],
        "scorer_permissions": [],
    }


def _required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidParameter(f"Missing value for required parameter '{name}'.")
    return value


# -- users ---------------------------------------------------------------------------------
def create_user(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    username, password = _required(params, "username"), _required(params, "password")
    user = control(ctx).access.create_user(username, hash_password(password))
    return {"user": _user_json(ctx, user)}


def get_user(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"user": _user_json(ctx, control(ctx).access.get_user(_required(params, "username")))}


def current_user(ctx: ServerContext, _params: dict[str, Any]) -> dict[str, Any]:
    me = caller(ctx)
    return {"user": {"id": me.id, "username": me.username, "is_admin": me.is_admin}}


def list_users(ctx: ServerContext, _params: dict[str, Any]) -> dict[str, Any]:
    users = control(ctx).access.list_users()
    return {"users": [{"id": u.id, "username": u.username, "is_admin": u.is_admin} for u in users]}


def update_password(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    """An admin sets anyone's password; a user changing their own must give the current one
    (a stolen session alone cannot lock its owner out)."""
    username, password = _required(params, "username"), _required(params, "password")
    me, access = caller(ctx), control(ctx).access
    if username == me.username and not me.is_admin:
        current = params.get("current_password")
        if not current:
            raise InvalidParameter("Current password is required to change your own password.")
        if not verify_password(me.password_hash, str(current)):
            raise PermissionDenied("Current password does not match.")
    access.update_user(username, password_hash=hash_password(password))
    return {}


def update_admin(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    is_admin = bool(params.get("is_admin"))
    control(ctx).access.update_user(_required(params, "username"), is_admin=is_admin)
    return {}


def delete_user(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    control(ctx).access.delete_user(_required(params, "username"))
    return {}


# -- permissions ---------------------------------------------------------------------------
def _grant_endpoints(kind: str, rows: api.Grants) -> list[Endpoint]:
    key_name = _KINDS[kind]
    answer = f"{kind}_permission"
    # MLflow 3 names the workspace of a registered model; trk has one, MLflow's default.
    where = {} if kind == "experiment" else {"workspace": DEFAULT_WORKSPACE}
    label = "Experiment" if kind == "experiment" else "Registered model"

    def body(key: str, user: User, permission: str) -> dict[str, Any]:
        return {answer: {**where, key_name: key, "user_id": user.id, "permission": permission}}

    def create(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
        key, username = str(_required(params, key_name)), _required(params, "username")
        permission = get_permission(_required(params, "permission")).name
        control(ctx).access.grant(kind, key, username, permission)
        return body(key, control(ctx).access.get_user(username), permission)

    def get(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
        key, username = str(_required(params, key_name)), _required(params, "username")
        access = control(ctx).access
        found = access.get_grant(kind, key, username)
        if found is None:
            scope = "".join(f"{k}={v}, " for k, v in where.items())
            raise NotFound(
                f"{label} permission with {scope}{key_name}={key} and username={username} not found"
            )
        return body(key, access.get_user(username), found)

    def update(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
        key, username = str(_required(params, key_name)), _required(params, "username")
        permission = get_permission(_required(params, "permission")).name
        control(ctx).access.set_grant(kind, key, username, permission)
        return {}

    def delete(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
        key, username = str(_required(params, key_name)), _required(params, "username")
        control(ctx).access.revoke(kind, key, username)
        return {}

    return [
        Endpoint(rows.create, create),
        Endpoint(rows.get, get),
        Endpoint(rows.update, update),
        Endpoint(rows.delete, delete),
    ]


# -- tokens (trk) ----------------------------------------------------------------------------
def create_token(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    """A new token for the caller, shown this once; only its digest is kept."""
    name = str(params.get("name") or "token")
    token = "trk_" + secrets.token_urlsafe(32)
    info = control(ctx).access.add_token(caller(ctx).username, name, token)
    return {"token": token, "id": info.id, "name": info.name, "created_ms": info.created_ms}


def list_tokens(ctx: ServerContext, _params: dict[str, Any]) -> dict[str, Any]:
    found = control(ctx).access.list_tokens(caller(ctx).username)
    return {"tokens": [{"id": t.id, "name": t.name, "created_ms": t.created_ms} for t in found]}


def revoke_token(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    control(ctx).access.revoke_token(caller(ctx).username, params["id"])
    return {}


ENDPOINTS = [
    Endpoint(api.CREATE_USER, create_user),
    Endpoint(api.GET_USER, get_user),
    Endpoint(api.CURRENT_USER, current_user),
    Endpoint(api.LIST_USERS, list_users),
    Endpoint(api.UPDATE_PASSWORD, update_password),
    Endpoint(api.UPDATE_ADMIN, update_admin),
    Endpoint(api.DELETE_USER, delete_user),
    *_grant_endpoints("experiment", api.EXPERIMENT_GRANTS),
    *_grant_endpoints("registered_model", api.MODEL_GRANTS),
    Endpoint(api.CREATE_TOKEN, create_token),
    Endpoint(api.LIST_TOKENS, list_tokens),
    Endpoint(api.REVOKE_TOKEN, revoke_token),
]
