"""Fixtures for the tracking API tests: a fresh sqlite store file per test."""

from __future__ import annotations

import pytest

import trk
from trk.tracking import client as client_module
from trk.tracking import fluent


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch):
    """A real sqlite file in tmp_path, active for the fluent API, with artifacts beside it."""
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    trk.set_tracking_uri(uri)
    yield uri
    while trk.active_run():
        trk.end_run()
    client_module._tracking_uri = None
    fluent._experiment_id = None
