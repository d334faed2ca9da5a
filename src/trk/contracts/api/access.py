"""Routes of `trk server --app-name basic-auth`: users and permissions (MLflow's), trk's
per-user tokens, and four-eyes promotions of protected aliases. Every write is sent once."""

from __future__ import annotations

from typing import NamedTuple

from trk.contracts.api.row import Api

# Declared as "text" so that an empty value reaches the handler's own check (MLflow's 400).
_USER = {"username": "text"}
_PASSWORD = {**_USER, "password": "text", "current_password": "text"}

# -- users -------------------------------------------------------------------------------------
CREATE_USER = Api("POST", "users/create", {**_USER, "password": "text"})
GET_USER = Api("GET", "users/get", _USER)
CURRENT_USER = Api("GET", "users/current", {})
LIST_USERS = Api("GET", "users/list", {})
UPDATE_PASSWORD = Api("PATCH", "users/update-password", _PASSWORD)
UPDATE_ADMIN = Api("PATCH", "users/update-admin", {**_USER, "is_admin": "bool"})
DELETE_USER = Api("DELETE", "users/delete", _USER)


# -- permissions -------------------------------------------------------------------------------
class Grants(NamedTuple):
    """The four permission routes of one kind of resource."""

    create: Api
    get: Api
    update: Api
    delete: Api


def _grants(path: str, key: str) -> Grants:
    fields = {key: "text", "username": "text", "permission": "text"}
    return Grants(
        Api("POST", f"{path}/permissions/create", fields),
        Api("GET", f"{path}/permissions/get", fields),
        Api("PATCH", f"{path}/permissions/update", fields),
        Api("DELETE", f"{path}/permissions/delete", fields),
    )


EXPERIMENT_GRANTS = _grants("experiments", "experiment_id")
MODEL_GRANTS = _grants("registered-models", "name")

# -- tokens (trk) ------------------------------------------------------------------------------
CREATE_TOKEN = Api("POST", "trk/users/tokens/create", {"name": "text"})
LIST_TOKENS = Api("GET", "trk/users/tokens/list", {})
REVOKE_TOKEN = Api("POST", "trk/users/tokens/revoke", {"id": "int!"})

# -- promotions (trk) --------------------------------------------------------------------------
_DECIDE = {"name": "str!", "request_id": "str!"}
REQUEST_PROMOTION = Api(
    "POST", "trk/promotions/request", {"name": "str!", "version": "str!", "alias": "str!"}
)
APPROVE_PROMOTION = Api("POST", "trk/promotions/approve", _DECIDE)
REJECT_PROMOTION = Api("POST", "trk/promotions/reject", _DECIDE)
LIST_PROMOTIONS = Api("GET", "trk/promotions/list", {"name": "str!", "pending_only": "bool"})
ALIAS_HISTORY = Api("GET", "trk/aliases/history", {"name": "str!", "alias": "str"})
