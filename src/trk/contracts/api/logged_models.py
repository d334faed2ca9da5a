"""MLflow 3 logged-model routes: create, get, finalize, delete, search, tags, params, files."""

from __future__ import annotations

from trk.contracts.api.row import Api

_ID = {"model_id": "str!"}
_LM = "logged-models"

SEARCH = Api(
    "POST",
    f"{_LM}/search",
    {
        "experiment_ids": "str[]",
        "filter": "str",
        "datasets": "obj[]",
        "max_results": "int",
        "order_by": "obj[]",
        "page_token": "str",
    },
    idempotent=True,
)
CREATE = Api(
    "POST",
    _LM,
    {
        "experiment_id": "str!",
        "name": "str",
        "model_type": "str",
        "source_run_id": "str",
        "params": "obj[]",
        "tags": "obj[]",
    },
    idempotent=False,  # a resend would make a second model
)
GET = Api("GET", _LM + "/{model_id}", _ID)
FINALIZE = Api("PATCH", _LM + "/{model_id}", {**_ID, "status": "str!"}, idempotent=True)
DELETE = Api("DELETE", _LM + "/{model_id}", _ID)
SET_TAGS = Api("PATCH", _LM + "/{model_id}/tags", {**_ID, "tags": "obj[]"})
DELETE_TAG = Api("DELETE", _LM + "/{model_id}/tags/{tag_key}", {**_ID, "tag_key": "str!"})
LOG_PARAMS = Api("POST", _LM + "/{model_id}/params", {**_ID, "params": "obj[]"})
LIST_FILES = Api(
    "GET",
    _LM + "/{model_id}/artifacts/directories",
    {**_ID, "artifact_directory_path": "str", "page_token": "str"},
)
