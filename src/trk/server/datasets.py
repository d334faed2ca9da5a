"""Dataset inputs of runs (`runs/log-inputs`, `experiments/search-datasets`).

trk's store keeps no dataset inputs yet (that needs tables of their own), so logging them is
refused with a clear NOT_IMPLEMENTED after the request is checked as MLflow checks it, and a
search finds none. Logged-model inputs ride on `runs/log-inputs` too and are refused alike.
"""

from __future__ import annotations

from typing import Any

from trk.exceptions import InvalidParameter, NotImplementedHere
from trk.server.endpoint import Api, ServerContext
from trk.server.runs import run_id_of

MAX_EXPERIMENTS = 20  # MLflow's limit for one search


def log_inputs(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.get_run(run_id_of(p))
    if not p.get("datasets") and not p.get("models"):
        return  # nothing to store: MLflow answers success too
    raise NotImplementedHere("trk server does not store dataset or model inputs of runs")


def search_datasets(_ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    ids = p.get("experiment_ids") or []
    if not ids:
        raise InvalidParameter("SearchDatasets request must specify at least one experiment_id.")
    if len(ids) > MAX_EXPERIMENTS:
        raise InvalidParameter(
            f"SearchDatasets request cannot specify more than {MAX_EXPERIMENTS} experiment_ids. "
            f"Received {len(ids)} experiment_ids."
        )
    return {"dataset_summaries": []}


APIS = [
    Api(
        "POST",
        "runs/log-inputs",
        {"run_id": "str", "run_uuid": "str", "datasets": "obj[]", "models": "obj[]"},
        log_inputs,
    ),
    Api("POST", "experiments/search-datasets", {"experiment_ids": "str[]"}, search_datasets),
]
