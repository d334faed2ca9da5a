"""Which permission every route of `trk server --app-name basic-auth` needs: one table.

A rule names the resource a request acts on (where its key is found) and what it needs on
it: MLflow's own mapping for MLflow's routes (`mlflow/server/auth/__init__.py`'s
BEFORE_REQUEST_HANDLERS), trk's choice, said beside it, for trk's own. A route with no rule
is refused (403) and fails the route-coverage test, so nothing new is open by accident.

Needs: `public` (no sign-in), `authenticated` (any user), `admin`, `self` (the user named in
the request, or an admin), or read / update / delete / manage on the resource.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where the resource's key is read, by kind:
EXPERIMENT = "experiment"  # experiment_id
EXPERIMENT_NAME = "experiment_name"  # experiment_name -> its id
RUN = "run"  # run_id or run_uuid -> its experiment
RUNS = "runs"  # run_id[] / run_ids[] -> each one's experiment
MODEL = "model"  # a registered model: name
MODEL_PARAM = "model_param"  # trk's prediction log and rollouts: model
ROLLOUT_MODEL = "rollout_model"  # rollout.model in a rollout start
LOGGED_MODEL = "logged_model"  # model_id in the path or body -> its experiment
ARTIFACT = "artifact"  # the proxied path's first segment is the experiment id
NONE = "none"


@dataclass(frozen=True)
class Rule:
    need: str
    kind: str = NONE
    # Before the handler: "runs" rewrites search_runs' experiment_ids to the readable ones.
    # After it: "grant_experiment" / "grant_model" give the creator MANAGE; "filter_*" drop
    # what the user may not read from the answer; "drop_model_grants" / "rename_model_grants"
    # keep grants in step with the registry.
    hook: str | None = None


R_EXP, U_EXP, D_EXP, M_EXP = (Rule(n, EXPERIMENT) for n in ("read", "update", "delete", "manage"))
R_RUN, U_RUN, D_RUN = (Rule(n, RUN) for n in ("read", "update", "delete"))
R_MODEL, U_MODEL, D_MODEL, M_MODEL = (
    Rule(n, MODEL) for n in ("read", "update", "delete", "manage")
)
R_LM, U_LM, D_LM = (Rule(n, LOGGED_MODEL) for n in ("read", "update", "delete"))
ANYONE, ADMIN, PUBLIC = Rule("authenticated"), Rule("admin"), Rule("public")

# (method, path under the API prefixes /api/2.0/mlflow/, /api/3.0/mlflow/, /ajax-api/2.0/mlflow/)
API_RULES: dict[tuple[str, str], Rule] = {
    ("POST", "experiments/create"): Rule("authenticated", hook="grant_experiment"),
    ("GET", "experiments/get"): R_EXP,
    ("GET", "experiments/get-by-name"): Rule("read", EXPERIMENT_NAME),
    ("POST", "experiments/search"): Rule("authenticated", hook="filter_experiments"),
    ("GET", "experiments/search"): Rule("authenticated", hook="filter_experiments"),
    ("POST", "experiments/update"): U_EXP,
    ("POST", "experiments/delete"): D_EXP,
    ("POST", "experiments/restore"): D_EXP,
    ("POST", "experiments/set-experiment-tag"): U_EXP,
    ("POST", "experiments/delete-experiment-tag"): U_EXP,
    ("POST", "experiments/search-datasets"): Rule("authenticated", hook="runs"),
    ("POST", "runs/create"): U_EXP,
    ("GET", "runs/get"): R_RUN,
    ("POST", "runs/update"): U_RUN,
    ("POST", "runs/delete"): D_RUN,
    ("POST", "runs/restore"): D_RUN,
    ("POST", "runs/log-metric"): U_RUN,
    ("POST", "runs/log-parameter"): U_RUN,
    ("POST", "runs/set-tag"): U_RUN,
    ("POST", "runs/delete-tag"): U_RUN,
    ("POST", "runs/log-batch"): U_RUN,
    ("POST", "runs/log-inputs"): U_RUN,
    ("POST", "runs/outputs"): U_RUN,
    ("POST", "runs/search"): Rule("authenticated", hook="runs"),
    ("GET", "metrics/get-history"): R_RUN,
    ("GET", "metrics/get-history-bulk"): Rule("read", RUNS),
    ("GET", "metrics/get-history-bulk-interval"): Rule("read", RUNS),
    ("GET", "artifacts/list"): R_RUN,
    # The web UI's file routes (under /ajax-api/2.0/mlflow/ only).
    ("GET", "get-artifact"): R_RUN,
    ("GET", "model-versions/get-artifact"): R_MODEL,
    ("POST", "upload-artifact"): U_RUN,
    ("POST", "registered-models/create"): Rule("authenticated", hook="grant_model"),
    ("GET", "registered-models/get"): R_MODEL,
    ("GET", "registered-models/search"): Rule("authenticated", hook="filter_models"),
    ("PATCH", "registered-models/update"): U_MODEL,
    ("POST", "registered-models/rename"): Rule("update", MODEL, "rename_model_grants"),
    ("DELETE", "registered-models/delete"): Rule("delete", MODEL, "drop_model_grants"),
    ("POST", "registered-models/set-tag"): U_MODEL,
    ("DELETE", "registered-models/delete-tag"): U_MODEL,
    ("POST", "registered-models/get-latest-versions"): R_MODEL,
    ("GET", "registered-models/get-latest-versions"): R_MODEL,
    # MLflow: setting or deleting an alias needs EDIT; protected aliases refuse it outright.
    ("POST", "registered-models/alias"): U_MODEL,
    ("DELETE", "registered-models/alias"): U_MODEL,
    ("GET", "registered-models/alias"): R_MODEL,
    ("POST", "model-versions/create"): U_MODEL,
    ("GET", "model-versions/get"): R_MODEL,
    ("PATCH", "model-versions/update"): U_MODEL,
    ("DELETE", "model-versions/delete"): D_MODEL,
    ("GET", "model-versions/search"): Rule("authenticated", hook="filter_versions"),
    ("POST", "model-versions/set-tag"): U_MODEL,
    ("DELETE", "model-versions/delete-tag"): D_MODEL,
    ("GET", "model-versions/get-download-uri"): R_MODEL,
    ("POST", "model-versions/transition-stage"): U_MODEL,
    ("POST", "logged-models/search"): Rule("authenticated", hook="runs"),
    ("POST", "logged-models"): U_EXP,
    ("GET", "logged-models/{model_id}"): R_LM,
    ("PATCH", "logged-models/{model_id}"): U_LM,
    ("DELETE", "logged-models/{model_id}"): D_LM,
    ("PATCH", "logged-models/{model_id}/tags"): U_LM,
    ("DELETE", "logged-models/{model_id}/tags/{tag_key}"): U_LM,
    ("POST", "logged-models/{model_id}/params"): U_LM,
    ("GET", "logged-models/{model_id}/artifacts/directories"): R_LM,
    ("GET", "logged-models/{model_id}/artifacts/files"): R_LM,
    # Webhooks see every registry event and call out of the cluster: admins only, as MLflow.
    ("POST", "webhooks"): ADMIN,
    ("GET", "webhooks"): ADMIN,
    ("GET", "webhooks/{webhook_id}"): ADMIN,
    ("PATCH", "webhooks/{webhook_id}"): ADMIN,
    ("DELETE", "webhooks/{webhook_id}"): ADMIN,
    ("POST", "webhooks/{webhook_id}/test"): ADMIN,
    ("GET", "webhooks/{webhook_id}/deliveries"): ADMIN,
    # trk's evidence: serving writes predictions and labels for a model it serves (EDIT on
    # the model), reports read them (READ), pruning deletes them (admin: it spans models).
    ("POST", "trk/predictions/log"): Rule("update", MODEL_PARAM),
    ("POST", "trk/labels/log"): Rule("update", MODEL_PARAM),
    # Rewriting evidence: only those who may manage the model correct its labels.
    ("POST", "trk/labels/correct"): Rule("manage", MODEL_PARAM),
    ("GET", "trk/predictions/joined"): Rule("read", MODEL_PARAM),
    ("GET", "trk/predictions/paired"): Rule("read", MODEL_PARAM),
    ("GET", "trk/predictions/outcomes"): Rule("read", MODEL_PARAM),
    ("GET", "trk/predictions/propensity"): Rule("read", MODEL_PARAM),
    ("GET", "trk/predictions/paired-outcomes"): Rule("read", MODEL_PARAM),
    ("POST", "trk/predictions/prune"): ADMIN,
    # Rollouts move traffic and, at the end, an alias: EDIT on the model; reading, READ.
    ("GET", "trk/rollouts/get"): Rule("read", MODEL_PARAM),
    ("GET", "trk/rollouts/list"): ANYONE,  # trk's choice: names and states, no data
    # A rollout of a protected champion is a promotion request by its starter (four eyes).
    ("POST", "trk/rollouts/start"): Rule("update", ROLLOUT_MODEL, "rollout_request"),
    ("POST", "trk/rollouts/transition"): Rule("update", MODEL_PARAM),
    ("POST", "trk/rollouts/lease"): Rule("update", MODEL_PARAM),
    ("POST", "trk/rollouts/release"): Rule("update", MODEL_PARAM),
    # The basic-auth app's own routes, as MLflow's.
    ("POST", "users/create"): ADMIN,
    ("GET", "users/get"): Rule("self"),
    ("GET", "users/current"): ANYONE,
    ("GET", "users/list"): ADMIN,
    ("PATCH", "users/update-password"): Rule("self"),
    ("PATCH", "users/update-admin"): ADMIN,
    ("DELETE", "users/delete"): ADMIN,
    ("POST", "users/create-ui"): ADMIN,  # the sign-up form's POST (CSRF-checked)
    ("POST", "experiments/permissions/create"): M_EXP,
    ("GET", "experiments/permissions/get"): M_EXP,
    ("PATCH", "experiments/permissions/update"): M_EXP,
    ("DELETE", "experiments/permissions/delete"): M_EXP,
    ("POST", "registered-models/permissions/create"): M_MODEL,
    ("GET", "registered-models/permissions/get"): M_MODEL,
    ("PATCH", "registered-models/permissions/update"): M_MODEL,
    ("DELETE", "registered-models/permissions/delete"): M_MODEL,
    # trk's: a user's own tokens; promotions of protected aliases (four eyes).
    ("POST", "trk/users/tokens/create"): ANYONE,
    ("GET", "trk/users/tokens/list"): ANYONE,
    ("POST", "trk/users/tokens/revoke"): ANYONE,
    ("POST", "trk/promotions/request"): U_MODEL,
    ("POST", "trk/promotions/approve"): M_MODEL,
    ("POST", "trk/promotions/reject"): M_MODEL,
    ("GET", "trk/promotions/list"): R_MODEL,
    ("GET", "trk/aliases/history"): R_MODEL,
}

# Routes outside the API prefixes: (method, path as Starlette declares it).
OTHER_RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/health"): PUBLIC,  # probes carry no credentials; it says ok or not
    ("GET", "/version"): ANYONE,
    ("GET", "/signup"): ADMIN,  # MLflow's sign-up form
    ("GET", "/metrics"): ANYONE,  # counts by route and rollout states: any signed-in scraper
    ("GET", "/api/2.0/mlflow-artifacts/artifacts"): Rule("read", ARTIFACT),
    ("GET", "/api/2.0/mlflow-artifacts/artifacts/{path:path}"): Rule("read", ARTIFACT),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/{path:path}"): Rule("update", ARTIFACT),
    ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/{path:path}"): Rule("delete", ARTIFACT),
    # A signed-in user; each field is then checked as its REST row (graphql_guard.py).
    ("GET", "/graphql"): ANYONE,
    ("POST", "/graphql"): ANYONE,
    ("GET", "/get-artifact"): R_RUN,
    ("GET", "/model-versions/get-artifact"): R_MODEL,
    # The dashboard: a page shows one resource (READ on it) or a list filtered to what the
    # user may read; its static files carry no data.
    ("GET", "/"): ANYONE,
    ("GET", "/experiments/{experiment_id}"): R_EXP,
    ("GET", "/runs/{run_id}"): R_RUN,
    ("GET", "/runs/{run_id}/artifacts/{path:path}"): R_RUN,
    ("GET", "/compare"): Rule("read", RUNS),
    ("GET", "/models"): ANYONE,
    ("GET", "/models/{name:path}"): R_MODEL,
    ("GET", "/ab/{name:path}"): R_MODEL,
    ("GET", "/static"): PUBLIC,
}
