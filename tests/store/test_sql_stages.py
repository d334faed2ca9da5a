"""Issue 30: MLflow's deprecated model version stages in the SQL store (sqlite and
PostgreSQL): transitions, archiving, each stage's newest version, aliases untouched, and
version numbers never given out twice; the migration that adds them to an existing store."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from trk.exceptions import InvalidParameter, NotFound
from trk.store import migrations
from trk.store.engine import dispose_engine, sql_url
from trk.store.sql import SqlStore


def _stages(versions) -> dict[str, str]:
    return {v.current_stage: v.version for v in versions}


def test_latest_version_per_stage(store):
    plan = ["Archived", "Production", "Archived", "Production", "Staging", "Staging", "None"]
    store.create_registered_model("lv")
    for number, stage in enumerate(plan, start=1):
        store.create_model_version("lv", f"s3://b/{number}")
        moved = store.transition_model_version_stage("lv", number, stage.lower())
        assert moved.current_stage == stage  # spelled as MLflow stores it
    assert _stages(store.get_latest_versions("lv", ["None"])) == {"None": "7"}
    assert _stages(store.get_latest_versions("lv", ["Staging", "none"])) == {
        "Staging": "6",
        "None": "7",
    }
    every = {"Archived": "3", "Production": "4", "Staging": "6", "None": "7"}
    assert _stages(store.get_latest_versions("lv")) == every
    assert _stages(store.get_latest_versions("lv", [])) == every
    # The registered model lists the same, stages in the order they were first entered.
    latest = store.get_registered_model("lv").latest_versions
    assert [(v.current_stage, v.version) for v in latest] == list(every.items())
    with pytest.raises(InvalidParameter, match="Invalid Model Version stage: Prod"):
        store.get_latest_versions("lv", ["Prod"])
    with pytest.raises(NotFound):
        store.get_latest_versions("nope")


def test_archive_existing_versions_and_aliases_untouched(store):
    store.create_registered_model("ae")
    for number in (1, 2, 3):
        store.create_model_version("ae", f"s3://b/{number}")
    store.set_registered_model_alias("ae", "champion", 1)
    store.transition_model_version_stage("ae", 1, "Production")
    store.transition_model_version_stage("ae", 2, "Production")
    store.transition_model_version_stage("ae", 3, "Staging")
    before = store.get_model_version("ae", 3).last_updated_timestamp
    moved = store.transition_model_version_stage("ae", 3, "Production", True)
    assert moved.current_stage == "Production"
    assert [store.get_model_version("ae", n).current_stage for n in (1, 2, 3)] == [
        "Archived",
        "Archived",
        "Production",
    ]
    assert store.get_model_version("ae", 3).last_updated_timestamp >= before
    # Stages never move aliases: champion still names version 1, now Archived.
    assert store.get_model_version_by_alias("ae", "champion").version == "1"
    assert store.get_registered_model("ae").aliases == {"champion": "1"}
    with pytest.raises(InvalidParameter, match="'Archived' is not an Active stage"):
        store.transition_model_version_stage("ae", 1, "Archived", True)
    with pytest.raises(InvalidParameter, match="Invalid Model Version stage"):
        store.transition_model_version_stage("ae", 1, "Gone")
    with pytest.raises(NotFound, match="Model Version"):
        store.transition_model_version_stage("ae", 9, "Staging")
    assert store.get_model_version("ae", 1).current_stage == "Archived"  # refusals wrote nothing


def test_version_numbers_are_never_reused(store):
    store.create_registered_model("nr")
    for number in (1, 2, 3):
        store.create_model_version("nr", f"s3://b/{number}")
    store.delete_model_version("nr", 3)
    store.delete_model_version("nr", 1)
    assert store.create_model_version("nr", "s3://b/4").version == "4"
    assert [v.version for v in store.search_model_versions("name = 'nr'")] == ["4", "2"]
    # A model deleted and created again starts over, as in MLflow.
    store.delete_registered_model("nr")
    assert store.create_model_version("nr", "s3://b/1").version == "1"


def test_migration_gives_existing_versions_stage_none_and_keeps_numbering(tmp_path):
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(sql_url(uri))
    with engine.begin() as conn:  # a store migrated to 0010 only, with two versions
        config = Config()
        config.set_main_option("script_location", str(Path(migrations.__file__).parent))
        config.attributes["connection"] = conn
        command.upgrade(config, "0010")
        conn.execute(text("INSERT INTO registered_models (name) VALUES ('old')"))
        for number in (1, 2):
            conn.execute(
                text("INSERT INTO model_versions (name, version, source) VALUES ('old', :n, 's')"),
                {"n": number},
            )
    engine.dispose()
    store = SqlStore(uri, str(tmp_path / "artifacts"))  # opening migrates to HEAD
    assert [store.get_model_version("old", n).current_stage for n in (1, 2)] == ["None", "None"]
    store.delete_model_version("old", 2)
    assert store.create_model_version("old", "s3://b/3").version == "3"
    dispose_engine(uri)
