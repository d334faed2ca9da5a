"""The README's first command (its output is in docs/index.md): `trk demo` end to end, in a fresh working directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

pytest.importorskip("sklearn")

TRK = str(Path(sys.executable).with_name("trk"))


def test_demo_trains_serves_promotes_and_reports(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRK_", "MLFLOW_"))}
    done = subprocess.run(
        [TRK, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    out = done.stdout
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "models:/iris@champion predicts [0, 2]" in out
    # Both variants in /metrics: the champion answered, the challenger shadowed every request.
    assert re.search(r'trk_requests_total\{[^}]*variant="champion",version="1"\} 300\.0', out)
    assert 'trk_shadow_requests_total{outcome="compared"} 300.0' in out
    assert 'trk_model_info{alias="challenger",model="iris",variant="challenger",version="2"}' in out
    assert "labels joined, per variant {'champion': 300, 'challenger': 300}" in out
    # The alias moved and the running server picked it up.
    assert "iris@champion: v1 -> v2" in out
    assert "X-Trk-Model-Version 2" in out
    assert 'trk_model_reloads_total{result="success",variant="champion"} 1.0' in out
    # It ends with the A/B report and its verdict.
    tail = out[out.index("trk ab report iris") :]
    assert "verdict" in tail and "accuracy" in tail
    # Versions, not roles: rows per (variant, version), the verdict version 2 against 1, paired.
    assert "compared: version 2 (challenger) vs version 1 (champion)" in tail
    assert re.search(r"^champion +│ 1 ", tail, re.M) and re.search(r"^challenger +│ 2 ", tail, re.M)
    assert "(sequential, paired)" in tail

    # What the demo left in the embedded store, read back through the Python API.
    import trk

    client = trk.Client(f"sqlite:///{tmp_path / 'trk.db'}")
    assert client.get_model_version_by_alias("iris", "champion").version == "2"
    assert client.get_model_version_by_alias("iris", "previous").version == "1"
    serving = client.get_experiment_by_name("serving/iris")
    runs = client.search_runs([serving.experiment_id])
    assert {r.data.params["variant"]: r.info.status for r in runs} == {
        "champion": "FINISHED",
        "challenger": "FINISHED",
    }
    for run in runs:
        labelled = client.get_metric_history(run.info.run_id, "labelled")
        assert sum(m.value for m in labelled) == 300
