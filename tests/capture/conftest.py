"""Capture tests: a writer on a local directory or on moto's S3 server, with its spool in
tmp_path."""

from __future__ import annotations

import pytest

from trk.capture.config import CaptureConfig
from trk.capture.writer import CaptureWriter


@pytest.fixture
def s3_uri(s3_bucket: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """s3://BUCKET/captures on moto, with AWS_ENDPOINT_URL as users set it (not TRK_...)."""
    monkeypatch.delenv("TRK_S3_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    return f"s3://{s3_bucket}/captures"


@pytest.fixture
def make_writer(tmp_path):
    def make(uri: str, **options) -> CaptureWriter:
        options.setdefault("spool_dir", tmp_path / "spool")
        return CaptureWriter(CaptureConfig(uri, **options))

    return make
