"""Model registry routes: registered models, versions, tags, aliases, download URIs, and
MLflow's deprecated stages."""

from __future__ import annotations

from trk.contracts.api.row import Api

_NAME = {"name": "str!"}
_VER = {"name": "str!", "version": "str!"}
_KV = {"key": "str!", "value": "text!"}
_SEARCH = {"filter": "str", "max_results": "int", "order_by": "str[]", "page_token": "str"}
_RM = "registered-models/"
_MV = "model-versions/"

# -- registered models -------------------------------------------------------------------------
CREATE_MODEL = Api(
    "POST",
    _RM + "create",
    {**_NAME, "tags": "obj[]", "description": "str", "deployment_job_id": "str"},
    idempotent=False,  # a resend that had landed is refused: the name exists
)
GET_MODEL = Api("GET", _RM + "get", _NAME)
SEARCH_MODELS = Api("GET", _RM + "search", _SEARCH)
UPDATE_MODEL = Api(
    "PATCH",
    _RM + "update",
    {**_NAME, "description": "str", "deployment_job_id": "str"},
    idempotent=True,
)
RENAME_MODEL = Api("POST", _RM + "rename", {**_NAME, "new_name": "str"}, idempotent=False)
DELETE_MODEL = Api("DELETE", _RM + "delete", _NAME, idempotent=True)
SET_MODEL_TAG = Api("POST", _RM + "set-tag", {**_NAME, **_KV}, idempotent=True)
DELETE_MODEL_TAG = Api("DELETE", _RM + "delete-tag", {**_NAME, "key": "str!"}, idempotent=True)

# -- aliases -----------------------------------------------------------------------------------
SET_ALIAS = Api(
    "POST", _RM + "alias", {**_NAME, "alias": "str!", "version": "str!"}, idempotent=True
)
DELETE_ALIAS = Api("DELETE", _RM + "alias", {**_NAME, "alias": "str!"}, idempotent=True)
GET_BY_ALIAS = Api("GET", _RM + "alias", {**_NAME, "alias": "str!"})

# -- model versions ----------------------------------------------------------------------------
CREATE_VERSION = Api(
    "POST",
    _MV + "create",
    {
        **_NAME,
        "source": "str!",
        "run_id": "str",
        "tags": "obj[]",
        "run_link": "str",
        "description": "str",
        "model_id": "str",
    },
    idempotent=False,  # a resend would register a second version
)
GET_VERSION = Api("GET", _MV + "get", _VER)
UPDATE_VERSION = Api("PATCH", _MV + "update", {**_VER, "description": "str"}, idempotent=True)
DELETE_VERSION = Api("DELETE", _MV + "delete", _VER, idempotent=True)
SEARCH_VERSIONS = Api("GET", _MV + "search", _SEARCH)
SET_VERSION_TAG = Api("POST", _MV + "set-tag", {**_VER, **_KV}, idempotent=True)
DELETE_VERSION_TAG = Api("DELETE", _MV + "delete-tag", {**_VER, "key": "str!"}, idempotent=True)
DOWNLOAD_URI = Api("GET", _MV + "get-download-uri", _VER)

# -- stages (deprecated by MLflow, still served) -----------------------------------------------
TRANSITION_STAGE = Api(
    "POST",
    _MV + "transition-stage",
    {"name": "str!", "version": "str!", "stage": "str!", "archive_existing_versions": "bool"},
    idempotent=True,
)
_LATEST = {"name": "str!", "stages": "str[]"}
LATEST_VERSIONS = Api("POST", _RM + "get-latest-versions", _LATEST, idempotent=True)
LATEST_VERSIONS_GET = Api("GET", _RM + "get-latest-versions", _LATEST)
