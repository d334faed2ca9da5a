"""trk's own routes for the serving replicas' prediction log and labels (not in MLflow).

Prediction rows are keyed, so a resent batch writes nothing twice; labels are written once
(a resend of a call that did commit is refused, 409), so label writes are sent once.
"""

from __future__ import annotations

from trk.contracts.api.row import Api

_READ = {"model": "str!", "since_ms": "int"}

LOG = Api("POST", "trk/predictions/log", {"model": "str!", "records": "list!"}, idempotent=True)
LOG_LABELS = Api("POST", "trk/labels/log", {"model": "str!", "labels": "obj[]!"}, idempotent=False)
CORRECT_LABELS = Api(
    "POST",
    "trk/labels/correct",
    {"model": "str!", "labels": "obj[]!", "actor": "str"},
    idempotent=False,
)
JOINED = Api("GET", "trk/predictions/joined", _READ)
PAIRED = Api("GET", "trk/predictions/paired", _READ)
OUTCOMES = Api("GET", "trk/predictions/outcomes", {**_READ, "limit": "int"})
PROPENSITY = Api("GET", "trk/predictions/propensity", _READ)
PAIRED_OUTCOMES = Api("GET", "trk/predictions/paired-outcomes", {**_READ, "limit": "int"})
PRUNE = Api("POST", "trk/predictions/prune", {"model": "str", "before_ms": "int!"}, idempotent=True)
