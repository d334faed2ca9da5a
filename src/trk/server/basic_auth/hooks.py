"""What a rule's resource kind means in keys, and the before/after hooks some rules name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trk import actor as acting
from trk.exceptions import PermissionDenied
from trk.server.basic_auth import rules
from trk.server.basic_auth.service import AccessControl
from trk.serving_contract import CHAMPION
from trk.store.access import User
from trk.store.promotions import APPROVED

EXPERIMENT, MODEL = "experiment", "registered_model"
# Query parameters that are lists even when given once.
LIST_PARAMS = frozenset({"run_id", "run_ids", "runs", "experiment_ids"})


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None or value == "" else str(value)


def _many(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values if v not in (None, "")]


def resources(
    control: AccessControl, kind: str, params: dict[str, Any]
) -> list[tuple[str, str | None]]:
    """The (grant kind, key) pairs a request of `kind` acts on; a key of None (missing or
    unknown resource) is judged by the default permission."""
    if kind == rules.EXPERIMENT:
        return [(EXPERIMENT, _first(params.get("experiment_id")))]
    if kind == rules.EXPERIMENT_NAME:
        name = _first(params.get("experiment_name"))
        return [(EXPERIMENT, None if name is None else control.experiment_by_name(name))]
    if kind == rules.RUN:
        run_id = _first(params.get("run_id") or params.get("run_uuid"))
        return [(EXPERIMENT, None if run_id is None else control.experiment_of_run(run_id))]
    if kind == rules.RUNS:
        ids = _many(params.get("run_id") or params.get("run_ids") or params.get("runs"))
        return [(EXPERIMENT, control.experiment_of_run(i)) for i in ids]
    if kind == rules.MODEL:
        return [(MODEL, _first(params.get("name")))]
    if kind == rules.MODEL_PARAM:
        return [(MODEL, _first(params.get("model")))]
    if kind == rules.ROLLOUT_MODEL:
        rollout = params.get("rollout")
        return [(MODEL, _first(rollout.get("model")) if isinstance(rollout, dict) else None)]
    if kind == rules.LOGGED_MODEL:
        model_id = _first(params.get("model_id"))
        found = None if model_id is None else control.experiment_of_logged_model(model_id)
        return [(EXPERIMENT, found)]
    if kind == rules.ARTIFACT:
        head = (_first(params.get("path")) or "").lstrip("/").split("/", 1)[0]
        return [(EXPERIMENT, head if head.isdigit() else None)]
    return []


def check(control: AccessControl, user: User, rule: rules.Rule, params: dict[str, Any]) -> None:
    """Raise PermissionDenied unless `user` may do what `rule` asks."""
    if user.is_admin or rule.need == "authenticated":
        return
    if rule.need == "admin":
        raise PermissionDenied("Permission denied: only an admin may do this")
    if rule.need == "self":
        # No username: the route answers its own 400 (MLflow's), nothing is read or written.
        if params.get("username") not in (None, user.username):
            raise PermissionDenied("Permission denied: only the user or an admin may")
        return
    for kind, key in resources(control, rule.kind, params):
        if not control.permission(user, kind, key).allows(rule.need):
            raise PermissionDenied(f"Permission denied: {rule.need} on {kind} {key}")


# -- before: search_runs, search_logged_models, search_datasets -------------------------------
def readable_experiments(
    control: AccessControl, user: User, params: dict[str, Any]
) -> dict[str, Any] | None:
    """The request's parameters with `experiment_ids` cut to those the user may read; None
    when none is left (the search then answers empty without running)."""
    asked = _many(params.get("experiment_ids"))
    keep = control.readable(user, EXPERIMENT, asked)
    left = [e for e in asked if e in keep]
    if asked and not left:
        return None
    return {**params, "experiment_ids": left}


# -- after: grants that follow the registry, answers filtered to what the user may read --------
def grant_experiment(
    control: AccessControl, user: User, params: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer.get("experiment_id"):
        control.grant_creator(EXPERIMENT, str(answer["experiment_id"]), user.username)


def grant_model(
    control: AccessControl, user: User, params: dict[str, Any], answer: dict[str, Any]
) -> None:
    name = (answer.get("registered_model") or {}).get("name") or _first(params.get("name"))
    if name:
        control.grant_creator(MODEL, name, user.username)


def drop_model_grants(
    control: AccessControl, user: User, params: dict[str, Any], answer: dict[str, Any]
) -> None:
    if _first(params.get("name")):
        control.access.revoke(MODEL, str(params["name"]))


def rename_model_grants(
    control: AccessControl, user: User, params: dict[str, Any], answer: dict[str, Any]
) -> None:
    old, new = _first(params.get("name")), _first(params.get("new_name"))
    if old and new:
        control.access.rename_model(old, new)


def rollout_request(
    control: AccessControl, user: User, params: dict[str, Any], answer: dict[str, Any]
) -> None:
    """A started rollout will promote `champion` at its end: where that alias is protected,
    its starter has asked for the promotion, and another user must approve it."""
    rollout = answer.get("rollout") or {}
    name, version = rollout.get("model"), rollout.get("challenger_version")
    if CHAMPION in control.protected and name and version:
        control.store.promotions.request(name, CHAMPION, int(version), user.username)  # type: ignore[attr-defined]


def approved(who: acting.Actor) -> Callable[..., dict[str, Any] | None]:
    """After the alias moved as a rollout's approved promotion: its request is approved."""

    def after(
        control: AccessControl, user: User, params: dict[str, Any], answer: dict[str, Any]
    ) -> None:
        name = str(params.get("name"))
        control.store.promotions.decide(name, str(who.request_id), user.username, APPROVED)  # type: ignore[attr-defined]

    return after


def _filtered(key: str, kind: str, field: str) -> Callable[..., dict[str, Any] | None]:
    def after(
        control: AccessControl, user: User, params: dict[str, Any], answer: dict[str, Any]
    ) -> dict[str, Any] | None:
        items = answer.get(key) or []
        if user.is_admin or not items:
            return None
        keep = control.readable(user, kind, (str(item.get(field)) for item in items))
        return {**answer, key: [i for i in items if str(i.get(field)) in keep]}

    return after


AFTER: dict[str, Callable[..., dict[str, Any] | None]] = {
    "grant_experiment": grant_experiment,
    "grant_model": grant_model,
    "drop_model_grants": drop_model_grants,
    "rename_model_grants": rename_model_grants,
    "rollout_request": rollout_request,
    "filter_experiments": _filtered("experiments", EXPERIMENT, "experiment_id"),
    "filter_models": _filtered("registered_models", MODEL, "name"),
    "filter_versions": _filtered("model_versions", MODEL, "name"),
}
