"""The scaled-out rehearsal (loadtest/rehearsal.py) end to end: real processes, real stores.

trk server on PostgreSQL (`pg_uri`) with S3 artifacts on moto's server (`s3_endpoint`),
three trk-serve replicas in split mode with a sticky header, a promotion under load, each
replica drained by SIGTERM, then `trk ab report`.
"""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest


@pytest.fixture(scope="module")
def rehearsal(root, tmp_path_factory, pg_uri, s3_endpoint):
    tmp = tmp_path_factory.mktemp("rehearsal")
    out = tmp / "result.json"
    argv = [sys.executable, str(root / "loadtest" / "rehearsal.py"), "--backend-store-uri"]
    argv += [pg_uri, "--s3-endpoint", s3_endpoint, "--duration-s", "8", "--json-out", str(out)]
    argv += ["--workdir", str(tmp / "logs")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert out.exists(), f"rehearsal crashed ({done.returncode}):\n{done.stderr[-4000:]}"
    return orjson.loads(out.read_text()), done


CHECKS = [
    "no_request_failed",
    "sticky_same_variant_on_every_replica",
    "promotion_picked_up_by_every_replica",
    "report_sums_all_replicas",
    "sigterm_drained_within_grace",
]


@pytest.mark.parametrize("check", CHECKS)
def test_rehearsal_check(rehearsal, check):
    result, done = rehearsal
    assert result["checks"][check], orjson.dumps(result["figures"], option=orjson.OPT_INDENT_2)


def test_rehearsal_figures(rehearsal):
    result, done = rehearsal
    figures = result["figures"]
    assert done.returncode == 0, done.stdout[-3000:]
    assert set(figures["per_replica"]) == {"0", "1", "2"}
    assert figures["per_variant"].get("champion") and figures["per_variant"].get("challenger")
    assert figures["exit_codes"] == [0, 0, 0]
    assert "| check | result |" in done.stdout
