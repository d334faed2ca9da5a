"""The scaled-out rehearsal (loadtest/rehearsal.py) end to end: real processes, real stores.

trk server on PostgreSQL (`pg_uri`) with S3 artifacts on moto's server (`s3_endpoint`),
three trk-serve replicas in split mode with a sticky header, a promotion under load, labels
to random replicas under load and in bulk after the drain (here one second later), each
replica drained by SIGTERM, then `trk ab report`. One run, every check asserted by name.
"""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

pytestmark = pytest.mark.e2e

CHECKS = {
    "no_request_failed",
    "sticky_same_variant_on_every_replica",
    "promotion_picked_up_by_every_replica",
    "report_sums_all_replicas",
    "sigterm_drained_within_grace",
    "no_label_refused",
    "report_reads_labels_from_the_store",
    "report_counts_every_label_once",
}


def test_rehearsal(root, tmp_path, pg_uri, s3_endpoint):
    out = tmp_path / "result.json"
    argv = [sys.executable, str(root / "loadtest" / "rehearsal.py"), "--backend-store-uri"]
    argv += [pg_uri, "--s3-endpoint", s3_endpoint, "--duration-s", "8", "--json-out", str(out)]
    argv += ["--bulk-delay-s", "1"]
    argv += ["--workdir", str(tmp_path / "logs")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert out.exists(), f"rehearsal crashed ({done.returncode}):\n{done.stderr[-4000:]}"
    result = orjson.loads(out.read_text())
    figures = orjson.dumps(result["figures"], option=orjson.OPT_INDENT_2).decode()
    assert set(result["checks"]) == CHECKS
    failed = sorted(name for name, ok in result["checks"].items() if not ok)
    assert not failed, f"failed checks {failed}; figures:\n{figures}"
    assert done.returncode == 0 and "| check | result |" in done.stdout
    assert set(result["figures"]["per_replica"]) == {"0", "1", "2"}
    per_variant = result["figures"]["per_variant"]
    assert per_variant.get("champion") and per_variant.get("challenger"), figures
    f = result["figures"]  # every label path was taken: live, twice, elsewhere, in bulk
    assert f["labelled_live"] and f["labelled_live_twice"] and f["labels_to_another_replica"]
    assert f["labelled_in_bulk"], figures
