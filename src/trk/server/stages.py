"""`model-versions/transition-stage`: MLflow's deprecated stages.

trk keeps no stages (every version is in stage "None"; aliases replace stages, as MLflow
recommends), so a move to "None" answers the version unchanged and any other stage is
refused with NOT_IMPLEMENTED naming the alternative.
"""

from __future__ import annotations

from typing import Any

from trk.exceptions import InvalidParameter, NotImplementedHere
from trk.server.endpoint import Api, ServerContext
from trk.store.mlflow_json import model_version_to_json

STAGES = ("None", "Staging", "Production", "Archived")


def transition(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    stage = next((s for s in STAGES if s.lower() == p["stage"].lower()), None)
    if stage is None:
        raise InvalidParameter(
            f"Invalid Model Version stage: {p['stage']}. Value must be one of {', '.join(STAGES)}."
        )
    version = ctx.store.get_model_version(p["name"], p["version"])
    if stage != "None":
        raise NotImplementedHere(
            f"trk server keeps no model version stages (MLflow deprecated them): "
            f"set an alias instead, e.g. registered-models/alias with alias '{stage.lower()}'"
        )
    return {"model_version": model_version_to_json(version)}


APIS = [
    Api(
        "POST",
        "model-versions/transition-stage",
        {"name": "str!", "version": "str!", "stage": "str!", "archive_existing_versions": "bool"},
        transition,
    ),
]
