"""Fixtures for the A/B tests: a real sqlite store in tmp_path and serving runs written into it."""

from __future__ import annotations

import pytest

from trk.tracking.client import Client


@pytest.fixture
def client(tmp_path, monkeypatch):
    """A trk Client on a fresh sqlite file, with artifacts beside it."""
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    return Client(f"sqlite:///{tmp_path / 'trk.db'}")
