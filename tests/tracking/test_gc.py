"""`trk gc` as a user runs it (a subprocess) on sqlite and PostgreSQL, with local and S3
artifacts (moto's S3 server): deleted runs and experiments go for good, rows and files;
live ones, and deleted runs a registered version still serves, stay."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from trk.artifacts import get_artifact_repository
from trk.entities import Metric, Param
from trk.store import schema
from trk.store.engine import dispose_engine
from trk.store.sql import SqlStore


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> str:
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'trk.db'}"
        yield uri
        dispose_engine(uri)
    else:
        yield request.getfixturevalue("pg_uri")


@pytest.fixture(params=["local", "s3"])
def artifact_root(request, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "artifacts")
    return f"s3://{request.getfixturevalue('s3_bucket')}/mlruns"


def gc(backend: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trk.cli", "gc", "--backend-store-uri", backend, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def files(uri: str) -> list[str]:
    return [f.path for f in get_artifact_repository(uri).list_artifacts()]


def rows(store: SqlStore, table, **where) -> int:  # noqa: ANN001
    stmt = select(func.count()).select_from(table)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    with store._engine.connect() as conn:
        return int(conn.execute(stmt).scalar() or 0)


@dataclass
class World:
    store: SqlStore
    live: str  # an active run in an active experiment
    dead: str  # a deleted run in the same experiment
    served: str  # a deleted run a registered version serves from
    gone_exp: str  # a deleted experiment
    gone_run: str  # its run
    gone_model: str  # its logged model
    uris: dict[str, str]


def _run_with_data(store: SqlStore, exp_id: str, tmp_path: Path) -> str:
    run = store.create_run(exp_id)
    run_id = run.info.run_id
    store.log_batch(run_id, [Metric("loss", v, 1, i) for i, v in enumerate((0.5, 0.3))])
    store.log_batch(run_id, params=[Param("lr", "0.1")])
    src = tmp_path / f"{run_id}.txt"
    src.write_text(run_id)
    get_artifact_repository(run.info.artifact_uri).log_artifact(src, "out")
    return run_id


@pytest.fixture
def world(backend, artifact_root, tmp_path) -> World:
    store = SqlStore(backend, artifact_root)
    exp = store.create_experiment("kept")
    live = _run_with_data(store, exp, tmp_path)
    dead = _run_with_data(store, exp, tmp_path)
    served = _run_with_data(store, exp, tmp_path)
    other = store.create_experiment("gone")
    gone_run = _run_with_data(store, other, tmp_path)
    model = store.create_logged_model(other, "m", gone_run)
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    get_artifact_repository(model.artifact_location).log_artifact(tmp_path / "MLmodel")
    source = f"{store.get_run(served).info.artifact_uri}/out"
    store.create_model_version("iris", source, served)
    store.access.create_user("ann", "not-a-hash")
    store.access.grant("experiment", other, "ann", "MANAGE")
    store.delete_run(dead)
    store.delete_run(served)
    store.delete_experiment(other)
    uris = {r: store.get_run(r).info.artifact_uri for r in (live, dead, served, gone_run)}
    uris[model.model_id] = model.artifact_location
    return World(store, live, dead, served, other, gone_run, model.model_id, uris)


def test_dry_run_lists_what_would_go_and_removes_nothing(world):
    before = {t.name: rows(world.store, t) for t in schema.metadata.sorted_tables}
    out = gc(world.store.uri, "--dry-run", "--json")
    assert out.returncode == 0, out.stderr
    listed = {(r["action"], r["what"]) for r in json.loads(out.stdout)}
    assert listed == {
        ("would remove", f"run {world.dead}"),
        ("would remove", f"run {world.gone_run}"),
        ("would remove", f"logged model {world.gone_model}"),
        ("would remove", f"experiment {world.gone_exp}"),
        ("kept", f"run {world.served}"),
    }
    assert {t.name: rows(world.store, t) for t in schema.metadata.sorted_tables} == before
    assert all(files(uri) for uri in world.uris.values())


def test_gc_removes_deleted_rows_and_files_only(world):
    out = gc(world.store.uri)
    assert out.returncode == 0, out.stderr
    store, runs = world.store, schema.runs
    for run_id in (world.dead, world.gone_run):
        assert rows(store, runs, run_uuid=run_id) == 0
        for table in (schema.metrics, schema.latest_metrics, schema.params, schema.tags):
            assert rows(store, table, run_uuid=run_id) == 0
        assert files(world.uris[run_id]) == []
    assert files(world.uris[world.gone_model]) == []
    assert rows(store, schema.experiments, experiment_id=int(world.gone_exp)) == 0
    # A new experiment may get the freed id on sqlite: no grant of the old one carries over.
    assert rows(store, schema.experiment_permissions, experiment_id=world.gone_exp) == 0
    # The live run and the deleted run a registered version serves keep rows and files.
    for run_id in (world.live, world.served):
        assert rows(store, schema.metrics, run_uuid=run_id) == 2
        assert rows(store, schema.params, run_uuid=run_id) == 1
        assert files(world.uris[run_id]) == ["out"]
    assert store.get_run(world.live).info.lifecycle_stage == "active"
    assert "registered model 'iris' version 1" in out.stdout
    again = gc(world.store.uri, "--json")  # nothing left to do but the kept run
    assert [r["action"] for r in json.loads(again.stdout)] == ["kept"]


def test_named_live_run_or_experiment_is_refused_and_nothing_goes(world):
    before = {t.name: rows(world.store, t) for t in schema.metadata.sorted_tables}
    out = gc(world.store.uri, "--run-ids", f"{world.dead},{world.live}")
    assert out.returncode == 1
    assert f"Run {world.live} is not in the deleted lifecycle stage" in out.stderr
    exp = world.store.get_run(world.live).info.experiment_id
    out = gc(world.store.uri, "--experiment-ids", exp)
    assert out.returncode == 1 and "not in the deleted lifecycle stage" in out.stderr
    assert {t.name: rows(world.store, t) for t in schema.metadata.sorted_tables} == before
    assert files(world.uris[world.dead]) == ["out"]


def test_older_than_spares_what_was_deleted_recently(world):
    out = gc(world.store.uri, "--older-than", "1d", "--json")
    assert out.returncode == 0, out.stderr
    assert [r["action"] for r in json.loads(out.stdout)] == []
    assert rows(world.store, schema.runs, run_uuid=world.dead) == 1
    named = gc(world.store.uri, "--older-than", "1h", "--run-ids", world.dead)
    assert named.returncode == 1 and "not older than the required age" in named.stderr
    assert gc(world.store.uri, "--older-than", "soon").returncode == 1


def test_run_ids_remove_only_the_named_run(world):
    out = gc(world.store.uri, "--run-ids", world.dead, "--experiment-ids", world.gone_exp)
    assert out.returncode == 0, out.stderr
    assert rows(world.store, schema.runs, run_uuid=world.dead) == 0
    assert rows(world.store, schema.runs, run_uuid=world.served) == 1


def test_gc_refuses_a_tracking_server_uri():
    out = gc("http://127.0.0.1:9")
    assert out.returncode == 1 and "tracking database itself" in out.stderr


def test_proxied_locations_resolve_under_the_artifacts_destination(tmp_path):
    """A store behind `trk server` keeps `mlflow-artifacts:/...` locations: gc needs the
    server's destination to find their files, and refuses to guess without it."""
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    store = SqlStore(uri, "mlflow-artifacts:/")  # as trk server opens its store
    destination = tmp_path / "destination"
    run = store.create_run("0")
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/0/")
    files_at = destination / "0" / run.info.run_id / "artifacts"
    files_at.mkdir(parents=True)
    (files_at / "model.pkl").write_bytes(b"x")
    keep = destination / "0" / "other.txt"
    keep.write_text("not the run's")
    store.delete_run(run.info.run_id)
    try:
        refused = gc(uri)
        assert refused.returncode == 1 and "--artifacts-destination" in refused.stderr
        assert rows(store, schema.runs, run_uuid=run.info.run_id) == 1
        done = gc(uri, "--artifacts-destination", str(destination))
        assert done.returncode == 0, done.stderr
        assert not files_at.exists() and keep.read_text() == "not the run's"
        assert rows(store, schema.runs, run_uuid=run.info.run_id) == 0
    finally:
        dispose_engine(uri)
