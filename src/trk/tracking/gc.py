"""`trk gc`: runs and experiments in the deleted lifecycle stage removed for good, with their
artifacts and metrics, as `mlflow gc` does. Everything is checked before anything goes: a
named run or experiment that is not deleted (or not old enough) stops the whole collection,
and nothing active is touched. Beyond MLflow, a deleted run whose files a registered model
version still serves is kept, and so is the experiment holding it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

from trk.artifacts import get_artifact_repository
from trk.artifacts.base import clean_artifact_path
from trk.entities import LifecycleStage
from trk.exceptions import InvalidParameter
from trk.store.gc import RunRow, SqlGarbage, VersionRef

_AGE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_DELETED = LifecycleStage.DELETED.value
PROXY_SCHEME = "mlflow-artifacts:"


def parse_age(text: str) -> int:
    """MLflow's `--older-than` format (`#d#h#m#s`, e.g. `30d` or `1d12h`) in milliseconds."""
    match = _AGE.match(text.strip())
    if not text.strip() or match is None:
        raise InvalidParameter(f"--older-than {text!r}: use #d#h#m#s, e.g. 30d or 1d12h30m")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000


@dataclass(frozen=True)
class Doomed:
    """One thing `trk gc` removes: a run, an experiment, or a logged model in one."""

    kind: str
    id: str
    artifacts: str = ""  # the location whose files go with it, resolved ("" for none)


@dataclass
class Plan:
    """What goes (in the order it goes) and what is kept, with why."""

    doomed: list[Doomed] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    """`trk gc`'s flags: ids as given (empty: every deleted one), age in ms (None: any)."""

    run_ids: Sequence[str] = ()
    experiment_ids: Sequence[str] = ()
    older_than_ms: int | None = None
    destination: str | None = None


def open_store(uri: str | None) -> SqlGarbage:
    """The gc queries of the SQL store at `uri` (default: the tracking URI)."""
    from trk import settings
    from trk.store import get_store

    garbage = getattr(get_store(uri or settings.default_tracking_uri()), "garbage", None)
    if not isinstance(garbage, SqlGarbage):
        raise InvalidParameter(
            "trk gc works on the tracking database itself (--backend-store-uri sqlite:///... "
            "or postgresql://...), not through a tracking server"
        )
    return garbage


def plan(garbage: SqlGarbage, request: Request, now_ms: int | None = None) -> Plan:
    """What `request` removes; raises before anything is removed when it names a live or a
    too-young run or experiment."""
    cutoff = None
    if request.older_than_ms is not None:
        cutoff = (now_ms if now_ms is not None else int(time.time() * 1000)) - request.older_than_ms
    experiment_ids = _experiments(garbage, request.experiment_ids, cutoff)
    old_runs = set(garbage.deleted_run_ids(cutoff))
    run_ids = list(dict.fromkeys(request.run_ids or sorted(old_runs)))
    for experiment_id in experiment_ids:
        run_ids += [r.run_id for r in garbage.runs_of(experiment_id) if r.run_id not in run_ids]
    runs = garbage.runs(run_ids)
    for run in runs:
        _check_run(run, request.older_than_ms is not None and run.run_id not in old_runs)
    versions = garbage.versions()
    out = Plan()
    kept_experiments: set[str] = set()
    for run in runs:
        why = _run_kept(run, versions)
        if why:
            out.kept.append((f"run {run.run_id}", why))
            kept_experiments.add(run.experiment_id)
            continue
        out.doomed.append(Doomed("run", run.run_id, _resolve(run.artifact_uri, request)))
    for experiment_id in experiment_ids:
        _plan_experiment(garbage, experiment_id, versions, kept_experiments, request, out)
    return out


def collect(garbage: SqlGarbage, todo: Plan) -> None:
    """Removes what `todo` lists: the files first, then the rows, so a failed delete leaves
    the run deleted and a second `trk gc` finishes it."""
    for item in todo.doomed:
        if item.artifacts:
            with get_artifact_repository(item.artifacts) as repo:
                repo.delete_artifacts()
        if item.kind == "run":
            garbage.remove_run(item.id)
        elif item.kind == "experiment":
            garbage.remove_experiment(item.id)


def _experiments(garbage: SqlGarbage, given: Sequence[str], cutoff: int | None) -> list[str]:
    if not given:
        return garbage.deleted_experiment_ids(cutoff)
    ids = list(dict.fromkeys(str(e) for e in given))
    for experiment_id in ids:
        exp = garbage.experiment(experiment_id)
        if exp.lifecycle_stage != _DELETED:
            raise InvalidParameter(
                f"Experiment {experiment_id} is not in the deleted lifecycle stage. Only "
                "experiments in the deleted lifecycle stage can be removed."
            )
        if cutoff is not None and (exp.last_update_time or 0) > cutoff:
            raise InvalidParameter(
                f"Experiment {experiment_id} is not older than the required age (--older-than)"
            )
    return ids


def _check_run(run: RunRow, too_young: bool) -> None:
    if run.lifecycle_stage != _DELETED:
        raise InvalidParameter(
            f"Run {run.run_id} is not in the deleted lifecycle stage. Only runs in the deleted "
            "lifecycle stage can be removed."
        )
    if too_young:
        raise InvalidParameter(
            f"Run {run.run_id} is not older than the required age (--older-than)"
        )


def _run_kept(run: RunRow, versions: list[VersionRef]) -> str:
    """Why a deleted run stays: a registered version serves its files, or its location is not
    a run's own directory (`.../<run id>/artifacts`), so deleting it could take others' files."""
    base = run.artifact_uri.rstrip("/")
    for v in versions:
        if v.source == base or v.source.startswith((base + "/", f"runs:/{run.run_id}/")):
            return f"registered model {v.name!r} version {v.version} is served from its files"
    if not base.endswith(f"/{run.run_id}/artifacts"):
        return f"its artifact location {run.artifact_uri!r} is not its own .../<run id>/artifacts"
    return ""


def _plan_experiment(
    garbage: SqlGarbage,
    experiment_id: str,
    versions: list[VersionRef],
    kept_experiments: set[str],
    request: Request,
    out: Plan,
) -> None:
    """The experiment goes with its logged models, unless something in it is kept."""
    models = garbage.logged_models_of(experiment_id)
    served = {v.model_id: v for v in versions if v.model_id}
    why = ""
    if experiment_id in kept_experiments:
        why = "a run in it is kept"
    for model_id, location in models:
        if model_id in served:
            v = served[model_id]
            why = why or f"registered model {v.name!r} version {v.version} is its model {model_id}"
        elif not location.rstrip("/").endswith(f"/{model_id}/artifacts"):
            why = why or f"logged model {model_id} is stored at {location!r}, not its own place"
    if why:
        out.kept.append((f"experiment {experiment_id}", why))
        return
    for model_id, location in models:
        out.doomed.append(Doomed("logged model", model_id, _resolve(location, request)))
    out.doomed.append(Doomed("experiment", experiment_id))


def _resolve(location: str, request: Request) -> str:
    """Where the files of `location` are: `mlflow-artifacts:/rel` is `rel` under the server's
    destination (`--artifacts-destination`), anything else is itself."""
    if not location.startswith(PROXY_SCHEME):
        return location
    if not request.destination:
        raise InvalidParameter(
            f"{location} is in the tracking server's artifact store: pass "
            "--artifacts-destination (the server's own)"
        )
    parsed = urlparse(location)
    rel = clean_artifact_path(parsed.path.strip("/"))
    if parsed.netloc or not rel:
        raise InvalidParameter(f"Cannot resolve {location!r} under the artifacts destination")
    return f"{request.destination.rstrip('/')}/{rel}"
