"""SqlStore model registry on sqlite and PostgreSQL: models, versions, tags, aliases."""

from __future__ import annotations

import pytest

from trk.exceptions import AlreadyExists, InvalidParameter, NotFound


def test_registered_model_crud(store):
    model = store.create_registered_model("iris", tags={"team": "ml"}, description="flowers")
    assert (model.name, model.tags, model.description) == ("iris", {"team": "ml"}, "flowers")
    assert model.latest_versions == [] and model.aliases == {}
    store.update_registered_model("iris", "new words")
    store.set_registered_model_tag("iris", "stage", "dev")
    got = store.get_registered_model("iris")
    assert (got.description, got.tags) == ("new words", {"team": "ml", "stage": "dev"})
    store.delete_registered_model_tag("iris", "stage")
    assert store.get_registered_model("iris").tags == {"team": "ml"}
    with pytest.raises(NotFound, match="'stage'"):
        store.delete_registered_model_tag("iris", "stage")


def test_versions_count_up_and_create_the_model(store):
    run_id = store.create_run(store.create_experiment("exp")).info.run_id
    v1 = store.create_model_version("iris", "s3://b/1", run_id, tags={"k": "v"}, description="d")
    v2 = store.create_model_version("iris", "s3://b/2")
    assert (v1.version, v2.version) == ("1", "2")
    assert (v1.run_id, v1.tags, v1.description, v1.status) == (run_id, {"k": "v"}, "d", "READY")
    assert store.get_registered_model("iris").latest_versions[0].version == "2"
    assert store.get_model_version_download_uri("iris", "1") == "s3://b/1"
    store.update_model_version("iris", 2, "better")
    store.set_model_version_tag("iris", "2", "checked", "yes")
    v2 = store.get_model_version("iris", 2)
    assert (v2.description, v2.tags) == ("better", {"checked": "yes"})
    store.delete_model_version_tag("iris", 2, "checked")
    assert store.get_model_version("iris", 2).tags == {}
    store.delete_model_version("iris", 2)
    # A deleted version's number is not given out again (MLflow's numbering).
    assert store.create_model_version("iris", "s3://b/3").version == "3"


def test_aliases(store):
    for source in ("s3://b/1", "s3://b/2"):
        store.create_model_version("iris", source)
    store.set_registered_model_alias("iris", "champion", 1)
    store.set_registered_model_alias("iris", "challenger", "2")
    assert store.get_model_version_by_alias("iris", "champion").source == "s3://b/1"
    assert store.get_registered_model("iris").aliases == {"champion": "1", "challenger": "2"}
    store.set_registered_model_alias("iris", "champion", 2)  # moving it
    moved = store.get_model_version_by_alias("iris", "champion")
    assert (moved.version, moved.aliases) == ("2", ["challenger", "champion"])
    assert store.get_model_version("iris", 1).aliases == []
    store.delete_registered_model_alias("iris", "challenger")
    with pytest.raises(NotFound, match="'challenger'"):
        store.get_model_version_by_alias("iris", "challenger")
    store.delete_model_version("iris", 2)  # the alias pointing at it goes too
    assert store.get_registered_model("iris").aliases == {}
    with pytest.raises(NotFound, match="'champion'"):
        store.get_model_version_by_alias("iris", "champion")


def test_rename_and_delete_model_take_everything_along(store, counts):
    store.create_model_version("iris", "s3://b/1", tags={"k": "v"})
    store.set_registered_model_tag("iris", "t", "1")
    store.set_registered_model_alias("iris", "champion", 1)
    renamed = store.rename_registered_model("iris", "flowers")
    assert renamed.aliases == {"champion": "1"} and renamed.tags == {"t": "1"}
    assert store.get_model_version_by_alias("flowers", "champion").tags == {"k": "v"}
    with pytest.raises(NotFound, match="name=iris"):
        store.get_registered_model("iris")
    store.delete_registered_model("flowers")
    after = counts(store)
    for table in ("registered_models", "model_versions", "model_version_tags"):
        assert after[table] == 0
    assert after["registered_model_aliases"] == after["registered_model_tags"] == 0


def test_bad_registry_calls_change_nothing(store, counts):
    store.create_model_version("iris", "s3://b/1")
    store.create_registered_model("other")
    before = counts(store)
    with pytest.raises(AlreadyExists, match="name=iris"):
        store.create_registered_model("iris")
    with pytest.raises(AlreadyExists, match="name=other"):
        store.rename_registered_model("iris", "other")
    with pytest.raises(NotFound, match="name=nope"):
        store.get_registered_model("nope")
    with pytest.raises(NotFound, match="version=7"):
        store.get_model_version("iris", 7)
    with pytest.raises(NotFound, match="name=nope"):
        store.get_model_version("nope", 1)
    with pytest.raises(NotFound, match="version=9"):
        store.set_registered_model_alias("iris", "champion", 9)
    with pytest.raises(NotFound, match="'ghost'"):
        store.delete_registered_model_alias("iris", "ghost")
    with pytest.raises(InvalidParameter, match="version"):
        store.get_model_version("iris", "abc")
    with pytest.raises(InvalidParameter, match="'/'"):
        store.create_registered_model("a/b")
    with pytest.raises(InvalidParameter, match="source"):
        store.create_model_version("iris", "")
    assert counts(store) == before


def test_bad_alias_names(store, counts):
    store.create_model_version("iris", "s3://b/1")
    before = counts(store)
    for alias in ["latest", "LATEST", "v1", "V12", "a b", "a.b", "", "x" * 256, None]:
        with pytest.raises(InvalidParameter):
            store.set_registered_model_alias("iris", alias, 1)
    assert counts(store) == before


def test_search_models_and_versions(store):
    run_id = store.create_run(store.create_experiment("exp")).info.run_id
    for name in ("iris", "iris-big", "Wine"):
        store.create_model_version(name, f"s3://b/{name}/1", run_id)
    store.create_model_version("iris", "s3://b/iris/2", tags={"k": "v"})
    assert [m.name for m in store.search_registered_models()] == ["Wine", "iris", "iris-big"]
    assert [m.name for m in store.search_registered_models("name LIKE 'iris%'")] == [
        "iris",
        "iris-big",
    ]
    assert [m.name for m in store.search_registered_models("name ILIKE 'WI%'")] == ["Wine"]
    assert [m.name for m in store.search_registered_models("name = 'iris'")] == ["iris"]
    page = store.search_registered_models(max_results=2, order_by=["name DESC"])
    assert [m.name for m in page] == ["iris-big", "iris"] and page.token
    rest = store.search_registered_models(
        max_results=2, order_by=["name DESC"], page_token=page.token
    )
    assert [m.name for m in rest] == ["Wine"] and rest.token is None
    versions = store.search_model_versions("name='iris'")
    assert [v.version for v in versions] == ["2", "1"]
    by_run = store.search_model_versions(f"run_id = '{run_id}'", order_by=["name ASC"])
    assert [v.name for v in by_run] == ["Wine", "iris", "iris-big"]
    assert [v.version for v in store.search_model_versions("tags.k = 'v'")] == ["2"]
    found = store.search_model_versions("source_path = 's3://b/Wine/1'")
    assert [v.name for v in found] == ["Wine"]
    with pytest.raises(InvalidParameter, match="'bogus'"):
        store.search_model_versions("bogus = 'x'")
