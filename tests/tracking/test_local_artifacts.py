"""The local artifact repository confines every path below its root."""

from __future__ import annotations

import pytest

from trk.artifacts import get_artifact_repository
from trk.artifacts.base import clean_artifact_path
from trk.artifacts.local import LocalArtifactRepository
from trk.exceptions import InvalidParameter, MalformedUri, NotFound

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "a\\b", "x\x00y"])
def test_traversal_refused(bad):
    with pytest.raises(InvalidParameter):
        clean_artifact_path(bad)


def test_normalised_paths():
    assert clean_artifact_path("a/./b/") == "a/b"
    assert clean_artifact_path("a/b/../c") == "a/c"
    assert clean_artifact_path(None) == ""


def test_log_list_download_roundtrip(tmp_path):
    repo = get_artifact_repository(f"file://{tmp_path / 'root'}")
    assert isinstance(repo, LocalArtifactRepository)
    f = tmp_path / "weights.bin"
    f.write_bytes(b"\x00\x01" * 1000)
    repo.log_artifact(f, "model/data")
    info = repo.list_artifacts("model/data")
    assert [(i.path, i.is_dir, i.file_size) for i in info] == [
        ("model/data/weights.bin", False, 2000)
    ]
    assert repo.list_artifacts("model/data/weights.bin") == []
    out = repo.download_artifacts("model/data/weights.bin", tmp_path / "out")
    assert out.read_bytes() == f.read_bytes()
    with pytest.raises(NotFound, match="nothing.txt"):
        repo.download_artifacts("nothing.txt", tmp_path / "out")
    with pytest.raises(NotFound):
        repo.log_artifact(tmp_path / "absent.txt")


def test_unknown_scheme():
    with pytest.raises(MalformedUri, match="gopher"):
        get_artifact_repository("gopher://x/y")
