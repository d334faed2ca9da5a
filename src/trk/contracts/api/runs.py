"""Run routes: create, get, update, delete, restore, search, log-*, tags, inputs and outputs,
metric histories, and a run's artifact listing."""

from __future__ import annotations

from trk.contracts.api.row import Api

# One metric as `log-metric` takes it, and as each entry of `log-batch`'s metrics is checked.
METRIC = {
    "key": "str!",
    "value": "float!",
    "timestamp": "int!",
    "step": "int",
    "model_id": "str",
    "dataset_name": "str",
    "dataset_digest": "str",
    "run_id": "str",
}
KEY_VALUE = {"key": "str!", "value": "text!"}  # a param or a tag
_RUN = {"run_id": "str", "run_uuid": "str"}  # MLflow accepts the older name too

CREATE = Api(
    "POST",
    "runs/create",
    {
        "experiment_id": "str",
        "user_id": "str",
        "run_name": "str",
        "start_time": "int",
        "tags": "obj[]",
    },
    idempotent=False,  # a resend would make a second run
)
GET = Api("GET", "runs/get", _RUN)
UPDATE = Api(
    "POST",
    "runs/update",
    {**_RUN, "status": "str", "end_time": "int", "run_name": "str"},
    idempotent=True,
)
DELETE = Api("POST", "runs/delete", {"run_id": "str!"}, idempotent=True)
RESTORE = Api("POST", "runs/restore", {"run_id": "str!"}, idempotent=True)
# A metric point already stored is skipped (unique on run, key, step, timestamp, value);
# params and tags are upserts: the log calls are safe to resend.
LOG_METRIC = Api("POST", "runs/log-metric", {**_RUN, **METRIC}, idempotent=True)
LOG_PARAM = Api("POST", "runs/log-parameter", {**_RUN, **KEY_VALUE}, idempotent=True)
SET_TAG = Api("POST", "runs/set-tag", {**_RUN, **KEY_VALUE}, idempotent=True)
DELETE_TAG = Api("POST", "runs/delete-tag", {"run_id": "str!", "key": "str!"}, idempotent=True)
LOG_BATCH = Api(
    "POST",
    "runs/log-batch",
    {"run_id": "str!", "metrics": "obj[]", "params": "obj[]", "tags": "obj[]"},
    idempotent=True,
)
SEARCH = Api(
    "POST",
    "runs/search",
    {
        "experiment_ids": "str[]",
        "filter": "str",
        "run_view_type": "str",
        "max_results": "int",
        "order_by": "str[]",
        "page_token": "str",
    },
    idempotent=True,
)
LOG_INPUTS = Api(
    "POST",
    "runs/log-inputs",
    {**_RUN, "datasets": "obj[]", "models": "obj[]"},
    idempotent=True,  # a repeat changes nothing
)
LOG_OUTPUTS = Api("POST", "runs/outputs", {"run_id": "str!", "models": "obj[]"}, idempotent=True)

# -- metric histories ------------------------------------------------------------------------
METRIC_HISTORY = Api(
    "GET",
    "metrics/get-history",
    {**_RUN, "metric_key": "str!", "page_token": "str", "max_results": "int"},
)
METRIC_HISTORY_BULK = Api(
    "GET",
    "metrics/get-history-bulk",
    {"run_id": "str[]", "metric_key": "str", "max_results": "int"},
)
METRIC_HISTORY_BULK_INTERVAL = Api(
    "GET",
    "metrics/get-history-bulk-interval",
    {
        "run_ids": "str[]",
        "metric_key": "str",
        "start_step": "int",
        "end_step": "int",
        "max_results": "int",
    },
)

# -- artifacts (the JSON listing; files travel on routes of their own) -----------------------
LIST_ARTIFACTS = Api("GET", "artifacts/list", {**_RUN, "path": "str", "page_token": "str"})
