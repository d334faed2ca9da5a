"""A tracking store seeded for the dashboard: training runs, a registered model with aliases,
and serving runs shaped like the reporter's (through the A/B tests' helpers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ab_helpers import simulate

from trk.entities import Metric
from trk.store import get_store
from trk.tracking.client import Client

SCRIPT_NAME = "<script>window.__pwned=1</script>"
SCRIPT_PARAM = "<img src=x onerror=window.__pwned=2>"
MODEL = "iris"
STEPS = 10
# name -> (params, final accuracy)
RUNS = {
    "tree-small": ({"model": "tree", "max_depth": "3", "lr": "0.1"}, 0.91),
    "tree-big": ({"model": "tree", "max_depth": "8", "lr": "0.1"}, 0.95),
    "forest": ({"model": "forest", "max_depth": "8", "lr": "0.05"}, 0.97),
    SCRIPT_NAME: ({"model": SCRIPT_PARAM, "max_depth": "2", "lr": "0.2"}, 0.80),
}


@dataclass
class Seeded:
    backend: str
    experiment_id: str
    run_ids: dict[str, str] = field(default_factory=dict)  # run name -> id
    artifact: str = "model/notes.txt"
    artifact_text: str = "trained on iris\n"


def _log_training_run(client: Client, exp_id: str, name: str, seeded: Seeded, tmp: Path) -> None:
    params, final = RUNS[name]
    run = client.create_run(exp_id, run_name=name, tags={"team": "<b>ml</b>"})
    rid = run.info.run_id
    metrics = []
    for step in range(STEPS):
        accuracy = 0.5 + (final - 0.5) * (step + 1) / STEPS
        metrics.append(Metric("accuracy", accuracy, 1_700_000_000_000, step))
        metrics.append(Metric("loss", 1 - accuracy, 1_700_000_000_000, step))
    client.log_batch(rid, metrics)
    for key, value in params.items():
        client.log_param(rid, key, value)
    notes = tmp / "notes.txt"
    notes.write_text(seeded.artifact_text)
    client.log_artifact(rid, notes, "model")
    client.set_terminated(rid, "FINISHED")
    seeded.run_ids[name] = rid


def _register(client: Client, seeded: Seeded) -> None:
    client.create_registered_model(MODEL, description="Iris classifier")
    for name in ("tree-big", "forest"):
        rid = seeded.run_ids[name]
        client.create_model_version(MODEL, f"runs:/{rid}/model", rid)
    client.set_registered_model_alias(MODEL, "champion", "1")
    client.set_registered_model_alias(MODEL, "challenger", "2")
    client.create_registered_model("no-traffic-yet")


def seed(root: Path) -> Seeded:
    """A sqlite store under `root` with everything the dashboard shows."""
    backend = f"sqlite:///{root / 'ui.db'}"
    client = Client.for_store(get_store(backend, default_artifact_root=str(root / "artifacts")))
    exp_id = client.create_experiment("training <&>")
    seeded = Seeded(backend, exp_id)
    for name in RUNS:
        _log_training_run(client, exp_id, name, seeded, root)
    _register(client, seeded)
    # A 60/40 split: more labelled traffic on the champion than on the challenger.
    for variant, accuracy, labelled, p50 in (
        ("champion", 0.90, 150, 6.0),
        ("challenger", 0.96, 100, 4.5),
    ):
        simulate(
            client,
            MODEL,
            {variant: accuracy},
            replicas=2,
            windows=6,
            labelled=labelled,
            p50={variant: p50},
            seed=labelled,
        )
    _rollout(client)
    return seeded


# A rollout at its third step, shaped like the controller's: (seconds, action, weight, guards
# as (value, bound) of error_rate, p99_ms and the accuracy difference; None: no data yet).
ROLLOUT_GUARDS = (
    "error_rate <= champion + 0.5pp",
    "p99_ms <= 1.2 * champion",
    "accuracy not-worse",
)
ROLLOUT = [
    (40, "hold", 0.05, None),
    (150, "hold", 0.05, [(0.002, 0.0071), (4.6, 7.4), (0.031, 0.0)]),
    (300, "advance", 0.10, [(0.003, 0.0068), (4.4, 7.3), (0.044, 0.0)]),
    (450, "hold", 0.10, [(0.001, 0.0066), (4.9, 7.5), (0.052, 0.0)]),
    (600, "advance", 0.25, [(0.002, 0.0069), (4.5, 7.2), (0.058, 0.0)]),
    (700, "hold", 0.25, [(0.002, 0.0070), (4.7, 7.4), (0.060, 0.0)]),
]


def _rollout(client: Client) -> None:
    """The rollout the A/B page shows, written through the store as the controller writes it;
    its transitions' times are then spread over 700 s (the store stamps them now)."""
    from sqlalchemy import update

    from trk.contracts.rollouts import Rollout
    from trk.store import schema

    plan = {
        "steps": [5, 10, 25, 50, 100],
        "step_interval_s": 120,
        "shadow_for_s": 0,
        "min_requests": 500,
        "guards": list(ROLLOUT_GUARDS),
        "failure_limit": 2,
        "manual_approval_at": 50,
        "alpha": 0.05,
        "horizon": 10000,
        "min_sample": 100,
        "mode": "steps",
        "min_share": 0.05,
    }
    rollouts = client.store.rollouts
    r = rollouts.start(Rollout(MODEL, "1", "2", plan, "running", 0, 0.05, 0, 0, 0, 0, 0))
    for _, action, weight, readings in ROLLOUT:
        step = {0.05: 0, 0.10: 1, 0.25: 2}[weight]
        guards = [
            {
                "guard": g,
                "state": "inconclusive" if readings is None else "pass",
                "value": None if readings is None else readings[i][0],
                "threshold": None if readings is None else readings[i][1],
                "detail": "",
            }
            for i, g in enumerate(ROLLOUT_GUARDS)
        ]
        changes = {"weight": weight, "step": step} if action == "advance" else {}
        reason = "advanced" if action == "advance" else "waiting" if readings is None else "held"
        r = rollouts.transition(
            MODEL, r.revision, changes, action, f"{reason} ({weight:g})", guards
        )
    t = schema.rollout_transitions
    with client.store._engine.begin() as conn:
        for seq, (seconds, *_rest) in enumerate(ROLLOUT, start=2):
            conn.execute(
                update(t)
                .where(t.c.model == MODEL, t.c.seq == seq)
                .values(timestamp_ms=r.created_ms + seconds * 1000)
            )


def client_for(seeded: Seeded) -> Client:
    """A second client on the seeded file, for what a test compares the pages with."""
    return Client(seeded.backend)
