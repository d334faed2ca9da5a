"""Parsing and resolving models:/, runs:/ and paths."""

from __future__ import annotations

import pytest

import trk
from trk.exceptions import MalformedUri, NotFound
from trk.uri import check_tracking_uri, parse_model_uri, parse_run_uri, resolve_model_dir

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("uri", "name", "alias", "version"),
    [
        ("models:/iris@champion", "iris", "champion", None),
        ("models:/iris/3", "iris", None, "3"),
        ("models:/iris/latest", "iris", None, "latest"),
    ],
)
def test_parse_model_uri(uri, name, alias, version):
    parsed = parse_model_uri(uri)
    assert (parsed.name, parsed.alias, parsed.version) == (name, alias, version)
    assert str(parsed) == uri


@pytest.mark.parametrize(
    ("uri", "stage"),
    [("models:/iris/Production", "Production"), ("models:/iris/staging", "Staging")],
)
def test_parse_stage_uri(uri, stage):
    """MLflow's deprecated stage URIs, spelled as MLflow stores the stage."""
    parsed = parse_model_uri(uri)
    assert (parsed.name, parsed.stage, parsed.version, parsed.alias) == ("iris", stage, None, None)
    assert str(parsed) == f"models:/iris/{stage}"


@pytest.mark.parametrize(
    "uri", ["models:/", "models:/iris", "models:/iris/x1", "model:/iris/1", "models:/a@b/c"]
)
def test_malformed_model_uris(uri):
    with pytest.raises(MalformedUri, match="Malformed model URI"):
        parse_model_uri(uri)


def test_parse_run_uri():
    parsed = parse_run_uri("runs:/0123456789abcdef0123456789abcdef/model/sub")
    assert parsed.run_id == "0123456789abcdef0123456789abcdef"
    assert parsed.path == "model/sub"
    with pytest.raises(MalformedUri):
        parse_run_uri("runs:/not-hex/model")


def test_tracking_uri_scheme_checked():
    assert check_tracking_uri("postgresql://u@h/db")
    with pytest.raises(MalformedUri, match="ftp://x"):
        check_tracking_uri("ftp://x")
    with pytest.raises(MalformedUri):
        trk.set_tracking_uri("mongodb://localhost")


def test_resolve_models_uri_through_registry(tracking_uri, tmp_path):
    src = tmp_path / "model"
    src.mkdir()
    (src / "MLmodel").write_text("flavors: {}\n")
    with trk.start_run() as run:
        trk.log_artifacts(src, "model")
    trk.register_model(f"runs:/{run.info.run_id}/model", "iris")
    trk.register_model(f"runs:/{run.info.run_id}/model", "iris")
    trk.Client().set_registered_model_alias("iris", "champion", "1")
    for uri in [
        "models:/iris@champion",
        "models:/iris/1",
        "models:/iris/latest",
        f"runs:/{run.info.run_id}/model",
    ]:
        assert (resolve_model_dir(uri) / "MLmodel").read_text() == "flavors: {}\n"
    assert resolve_model_dir(str(src)) == src
    assert resolve_model_dir(f"file://{src}") == src
    with pytest.raises(NotFound, match="missing"):
        resolve_model_dir("models:/iris@missing")
    with pytest.raises(NotFound):
        resolve_model_dir("models:/nope/1")
    with pytest.raises(NotFound, match="not found"):
        resolve_model_dir(str(tmp_path / "absent"))


def test_stage_uri_resolves_to_the_newest_version_in_the_stage(tracking_uri, tmp_path):
    client = trk.Client()
    for text in ("one", "two", "three"):
        (tmp_path / text).mkdir()
        (tmp_path / text / "MLmodel").write_text(f"{text}\n")
        client.create_model_version("staged", str(tmp_path / text))
    client.transition_model_version_stage("staged", "1", "Production")
    client.transition_model_version_stage("staged", "2", "Production")
    client.transition_model_version_stage("staged", "3", "Staging")
    assert (resolve_model_dir("models:/staged/Production") / "MLmodel").read_text() == "two\n"
    assert (resolve_model_dir("models:/staged/staging") / "MLmodel").read_text() == "three\n"
    with pytest.raises(NotFound, match="stage 'Archived'"):
        resolve_model_dir("models:/staged/Archived")
