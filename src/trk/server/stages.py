"""MLflow's deprecated model version stages: `model-versions/transition-stage` and
`registered-models/get-latest-versions`, served as MLflow 3 serves them.

MLflow deprecated stages in favour of aliases but still serves them, and clients (and
`models:/NAME/Production` URIs) still use them. trk stores them beside aliases: a transition
never moves an alias, so what trk serves through `models:/NAME@ALIAS` is unaffected.
"""

from __future__ import annotations

from typing import Any

from trk.contracts.api import registry as api
from trk.server.endpoint import Endpoint, ServerContext
from trk.store.mlflow_json import model_version_to_json


def transition(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    version = ctx.store.transition_model_version_stage(
        p["name"], p["version"], p["stage"], p.get("archive_existing_versions", False)
    )
    return {"model_version": model_version_to_json(version)}


def latest_versions(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    """The newest version in each named stage (every stage when none are named)."""
    versions = ctx.store.get_latest_versions(p["name"], p.get("stages") or None)
    return {"model_versions": [model_version_to_json(v) for v in versions]}


ENDPOINTS = [
    Endpoint(api.TRANSITION_STAGE, transition),
    Endpoint(api.LATEST_VERSIONS, latest_versions),
    Endpoint(api.LATEST_VERSIONS_GET, latest_versions),
]
