"""A `trk log ship --listen` sidecar captures as trk-serve's own shipper child does: two real
trk-serve replicas with --capture-uri send their answers over one Unix socket; each connection
gets its own capture writer (its own slot of the sidecar's spool), and after SIGTERM pyarrow
reads every answer once, with the inputs sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from capture_helpers import read_local

pytestmark = pytest.mark.e2e

sys.path.insert(0, str(Path(__file__).parent.parent / "ab"))
from ab_serving import register_models, send, start_replicas, stream, wait_until  # noqa: E402

TRK = str(Path(sys.executable).parent / "trk")


def test_a_sidecar_captures_every_answer_of_two_replicas(tmp_path, monkeypatch):
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    tracking = f"sqlite:///{tmp_path / 'trk.db'}"
    register_models(tracking, "side", {"champion": 0.2, "challenger": 0.05})
    sock, spool = str(tmp_path / "ship.sock"), tmp_path / "sidecar-spool"
    with open(tmp_path / "sidecar.log", "w") as out:
        sidecar = subprocess.Popen(
            [TRK, "log", "ship", "--listen", sock, "--tracking-uri", tracking]
            + ["--capture-spool-dir", str(spool)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    args = [
        "--model-uri",
        "models:/side@champion",
        "--challenger-uri",
        "models:/side@challenger",
        "--mode",
        "split",
        "--tracking-uri",
        tracking,
        "--log-shipper-socket",
        sock,
        "--capture-uri",
        str(tmp_path / "cap"),
        "--capture-flush-s",
        "1",
        # trk-serve's own spool is not the sidecar's: nothing may land here
        "--capture-spool-dir",
        str(tmp_path / "serve-spool"),
    ]
    try:
        wait_until(lambda: Path(sock).exists())
        replicas = start_replicas([args, args], {}, tmp_path)
        x, _ = stream(400, seed=8)
        try:
            answers = send(replicas[0].url, x[:200]) + send(replicas[1].url, x[200:])
        finally:
            for r in replicas:
                r.stop()  # SIGTERM: each drains its connection, the sidecar its capture
        # Two connections at once: two slots of the sidecar's spool, none of trk-serve's.
        assert sorted(p.name for p in spool.glob("writer-*")) == ["writer-0", "writer-1"]
        assert not (tmp_path / "serve-spool").exists()
        sidecar.send_signal(signal.SIGTERM)
        assert sidecar.wait(timeout=60) == 0
    finally:
        if sidecar.poll() is None:
            os.kill(sidecar.pid, signal.SIGKILL)
            sidecar.wait()
    rows = read_local(tmp_path / "cap", "model=side").to_table().to_pylist()
    assert len(rows) == len({r["request_id"] for r in rows}) == 400
    sent = {a[0]: (a[1], [x[i].tolist()], [a[3]]) for i, a in enumerate(answers)}
    for row in rows:
        got = (row["variant"], json.loads(row["inputs"]), json.loads(row["prediction"]))
        assert got == sent[row["request_id"]] and row["status"] == 200
