"""Each rollout transition, logged in the model's serving experiment as one run per rollout.

The run (tag `trk.rollout=true`, not `trk.serving`, so A/B reports skip it) gets the weight,
the failure count and every guard's value as metrics with `step` = the transition's number,
and the state and last reason as tags; it ends FINISHED when the rollout does. Logging never
stops a transition: a failure here is a warning.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from trk.ab.windows import serving_experiment_name
from trk.contracts.rollouts import Rollout
from trk.exceptions import AlreadyExists

if TYPE_CHECKING:
    from trk.tracking.client import Client

log = logging.getLogger("trk.rollout")
ROLLOUT_TAG = "trk.rollout"


def open_run(client: Client, model: str, champion: str, challenger: str) -> str | None:
    """A run for a new rollout in `serving/<model>` (created if missing); None if it failed."""
    try:
        name = serving_experiment_name(model)
        exp_id = _experiment(client, name)
        tags = {
            ROLLOUT_TAG: "true",
            "trk.rollout.champion_version": champion,
            "trk.rollout.challenger_version": challenger,
        }
        run = client.create_run(exp_id, tags=tags, run_name=f"rollout v{champion} -> v{challenger}")
        return str(run.info.run_id)
    except Exception as exc:  # the rollout goes on without its journal
        log.warning("could not open the rollout's run in %s: %s", model, exc)
        return None


def _experiment(client: Client, name: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    try:
        return str(client.create_experiment(name))
    except AlreadyExists:  # a serving replica created it meanwhile
        again = client.get_experiment_by_name(name)
        if again is None:  # and it was deleted since: nothing to journal into
            raise
        return str(again.experiment_id)


def _key(guard: str) -> str:
    return "guard." + re.sub(r"[^A-Za-z0-9_.\-]+", "_", guard.split()[0])[:200]


def record(client: Client, rollout: Rollout) -> None:
    """Log the rollout's latest transition in its run."""
    if not rollout.run_id or not rollout.history:
        return
    last = rollout.history[-1]
    try:
        run_id = rollout.run_id
        client.log_metric(run_id, "rollout_weight", last.weight, last.timestamp_ms, last.seq)
        client.log_metric(run_id, "rollout_failures", rollout.failures, last.timestamp_ms, last.seq)
        for g in last.guards:
            if isinstance(g.get("value"), int | float):
                client.log_metric(run_id, _key(g["guard"]), g["value"], last.timestamp_ms, last.seq)
        client.set_tag(run_id, "trk.rollout.state", rollout.state)
        client.set_tag(run_id, "trk.rollout.reason", f"{last.action}: {last.reason}"[:5000])
        if not rollout.active:
            client.set_terminated(run_id, "FINISHED")
    except Exception as exc:
        log.warning("could not log the rollout's transition %s: %s", last.seq, exc)
