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


def _sidecar(sock: str, tracking: str, spool: Path, log: Path) -> subprocess.Popen:
    with open(log, "a") as out:
        return subprocess.Popen(
            [TRK, "log", "ship", "--listen", sock, "--tracking-uri", tracking]
            + ["--capture-spool-dir", str(spool)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _serve_args(model: str, tracking: str, sock: str, tmp_path: Path) -> list[str]:
    return [
        "--model-uri",
        f"models:/{model}@champion",
        "--challenger-uri",
        f"models:/{model}@challenger",
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


def _stop(sidecar: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    if sidecar.poll() is None:
        os.kill(sidecar.pid, sig)
    return sidecar.wait(timeout=60)


def _captured(tmp_path: Path, model: str) -> list[dict]:
    return read_local(tmp_path / "cap", f"model={model}").to_table().to_pylist()


@pytest.fixture
def tracking(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    return f"sqlite:///{tmp_path / 'trk.db'}"


def test_a_sidecar_captures_every_answer_of_two_replicas(tmp_path, tracking):
    register_models(tracking, "side", {"champion": 0.2, "challenger": 0.05})
    sock, spool = str(tmp_path / "ship.sock"), tmp_path / "sidecar-spool"
    sidecar = _sidecar(sock, tracking, spool, tmp_path / "sidecar.log")
    args = _serve_args("side", tracking, sock, tmp_path)
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
        assert _stop(sidecar) == 0
    finally:
        _stop(sidecar, signal.SIGKILL)
    rows = _captured(tmp_path, "side")
    assert len(rows) == len({r["request_id"] for r in rows}) == 400
    sent = {a[0]: (a[1], [x[i].tolist()], [a[3]]) for i, a in enumerate(answers)}
    for row in rows:
        got = (row["variant"], json.loads(row["inputs"]), json.loads(row["prediction"]))
        assert got == sent[row["request_id"]] and row["status"] == 200


def test_a_killed_sidecar_started_again_loses_and_doubles_nothing(tmp_path, tracking):
    """kill -9 of the sidecar: trk-serve connects to the next one and sends again what was not
    acknowledged; the new sidecar takes over the dead one's slot and skips what it held."""
    register_models(tracking, "kil", {"champion": 0.2, "challenger": 0.05})
    sock, spool, log = str(tmp_path / "ship.sock"), tmp_path / "spool", tmp_path / "side.log"
    sidecar = _sidecar(sock, tracking, spool, log)
    wait_until(lambda: Path(sock).exists())
    (replica,) = start_replicas([_serve_args("kil", tracking, sock, tmp_path)], {}, tmp_path)
    x, _ = stream(400, seed=6)
    try:
        first = send(replica.url, x[:200])
        _stop(sidecar, signal.SIGKILL)
        Path(sock).unlink()
        second = send(replica.url, x[200:300])  # kept by trk-serve until a sidecar is back
        sidecar = _sidecar(sock, tracking, spool, log)
        wait_until(lambda: Path(sock).exists())
        third = send(replica.url, x[300:])
    finally:
        replica.stop()
        _stop(sidecar)
    assert "log shipper exited" in replica.log.read_text()
    ids = [r["request_id"] for r in _captured(tmp_path, "kil")]
    assert len(ids) == len(set(ids)) == 400
    assert set(ids) == {a[0] for a in first + second + third}
