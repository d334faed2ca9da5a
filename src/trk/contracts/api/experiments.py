"""Experiment routes: create, get, get-by-name, search, update, delete, restore, tags."""

from __future__ import annotations

from trk.contracts.api.row import Api

_ID = {"experiment_id": "str!"}
_SEARCH = {
    "max_results": "int",
    "page_token": "str",
    "filter": "str",
    "order_by": "str[]",
    "view_type": "str",
}

CREATE = Api(
    "POST",
    "experiments/create",
    {"name": "str!", "artifact_location": "str", "tags": "obj[]"},
    idempotent=False,  # a resend that had landed would be refused as a duplicate name
)
GET = Api("GET", "experiments/get", _ID)
GET_BY_NAME = Api("GET", "experiments/get-by-name", {"experiment_name": "str!"})
SEARCH = Api("POST", "experiments/search", _SEARCH, idempotent=True)
SEARCH_GET = Api("GET", "experiments/search", _SEARCH)
UPDATE = Api("POST", "experiments/update", {**_ID, "new_name": "str"}, idempotent=True)
DELETE = Api("POST", "experiments/delete", _ID, idempotent=True)
RESTORE = Api("POST", "experiments/restore", _ID, idempotent=True)
SET_TAG = Api(
    "POST",
    "experiments/set-experiment-tag",
    {**_ID, "key": "str!", "value": "text!"},
    idempotent=True,
)
DELETE_TAG = Api(
    "POST", "experiments/delete-experiment-tag", {**_ID, "key": "str!"}, idempotent=True
)
SEARCH_DATASETS = Api("POST", "experiments/search-datasets", {"experiment_ids": "str[]"})
