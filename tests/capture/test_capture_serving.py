"""`trk-serve --capture-uri`: two real split replicas capture every answer on moto's S3 server
through their log shippers; after SIGTERM, pyarrow (not trk) reads every request once with the
inputs sent, /feedback labels lie beside them, and the report and export agree with pandas."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from capture_helpers import check_report, expected_report, local_capture, read_local, read_s3

pytestmark = pytest.mark.e2e

sys.path.insert(0, str(Path(__file__).parent.parent / "ab"))
from ab_serving import feedback, register_models, send, start_replicas, stream  # noqa: E402

TRK = str(Path(sys.executable).parent / "trk")
N = 4000


def _common(model: str) -> list[str]:
    return [
        "--model-uri",
        f"models:/{model}@champion",
        "--challenger-uri",
        f"models:/{model}@challenger",
        "--mode",
        "split",
        "--challenger-weight",
        "0.5",
        "--report-interval-s",
        "5",
        "--capture-flush-s",
        "2",
    ]


def _trk(*args: str) -> str:
    done = subprocess.run([TRK, *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def env(tmp_path, monkeypatch):
    values = {
        "TRK_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "TRK_MODEL_CACHE": str(tmp_path / "cache"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_two_replicas_capture_every_answer_on_s3(s3_uri, s3_endpoint, s3_bucket, tmp_path, env):
    tracking = f"sqlite:///{tmp_path / 'trk.db'}"
    register_models(tracking, "cap", {"champion": 0.2, "challenger": 0.05})
    env = {**env, "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"]}
    args = [
        [
            *_common("cap"),
            "--tracking-uri",
            tracking,
            "--capture-uri",
            s3_uri,
            "--capture-spool-dir",
            str(tmp_path / f"spool-{k}"),
        ]
        for k in range(2)
    ]
    replicas = start_replicas(args, env, tmp_path)
    try:
        x, y = stream(N, seed=3)
        half = N // 2
        answers = send(replicas[0].url, x[:half]) + send(replicas[1].url, x[half:])
        assert [a[2] for a in answers] == [200] * N
        ids = [a[0] for a in answers]
        # Labels to the other replica than the one that answered: the capture joins them all.
        stored = feedback(replicas[1].url, ids[:half], y[:half].tolist())
        stored += feedback(replicas[0].url, ids[half:], y[half:].tolist())
        assert sum(s["stored"] for s in stored) == N
    finally:
        for r in replicas:
            r.stop()  # SIGTERM: each drains its shipper, and the shipper its capture
    keys, table = read_s3(s3_endpoint, s3_bucket, "captures/model=cap/")
    assert all("/date=" in k and "/hour=" in k and k.endswith(".parquet") for k in keys)
    assert table.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("routing_probability").type == pa.float64()
    assert table.schema.field("status").type == pa.int32()
    rows = table.to_pylist()
    assert len(rows) == len({r["request_id"] for r in rows}) == N
    sent = {a[0]: (a[1], x[i].tolist(), a[3]) for i, a in enumerate(answers)}
    for row in rows:
        variant, inputs, pred = sent[row["request_id"]]
        assert (row["variant"], json.loads(row["inputs"]), json.loads(row["prediction"])) == (
            variant,
            [inputs],
            [pred],
        )
        assert row["routing_probability"] == 0.5 and row["latency_ms"] > 0
    _, labels = read_s3(s3_endpoint, s3_bucket, "captures/labels/model=cap/")
    assert set(labels.column("request_id").to_pylist()) == set(ids)

    report = json.loads(_trk("ab", "report", "cap", "--capture-uri", s3_uri, "--json"))
    check_report(report, expected_report(table.to_pandas(), labels.to_pandas()))
    out = tmp_path / "joined.parquet"
    assert f"wrote {N} row(s)" in _trk(
        "ab", "export", "cap", "--capture-uri", s3_uri, "--out", str(out), "--labelled-only"
    )


def test_sampled_replicas_keep_the_same_request_ids(tmp_path, env):
    tracking = f"sqlite:///{tmp_path / 'trk.db'}"
    register_models(tracking, "smp", {"champion": 0.2, "challenger": 0.05})
    args = [
        [
            *_common("smp"),
            "--tracking-uri",
            tracking,
            "--no-prediction-log",
            "--capture-uri",
            str(tmp_path / f"cap-{k}"),
            "--capture-sample",
            "0.25",
            "--capture-spool-dir",
            str(tmp_path / f"spool-{k}"),
        ]
        for k in range(2)
    ]
    replicas = start_replicas(args, env, tmp_path)
    ids = [f"{i:032x}" for i in range(800)]
    try:
        for r in replicas:  # the same request ids to both replicas
            with httpx.Client(base_url=r.url, timeout=30) as http:
                for rid in ids:
                    resp = http.post(
                        "/invocations", json={"inputs": [[0.3, 0.6]]}, headers={"X-Request-Id": rid}
                    )
                    assert resp.status_code == 200 and resp.headers["x-request-id"] == rid
    finally:
        for r in replicas:
            r.stop()
    kept = [
        set(
            read_local(tmp_path / f"cap-{k}", "model=smp")
            .to_table()
            .column("request_id")
            .to_pylist()
        )
        for k in range(2)
    ]
    assert kept[0] == kept[1]
    assert 120 < len(kept[0]) < 280  # a quarter of 800, within 5 standard deviations


def _shipper_pid(parent: int) -> int:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            return int(stat.parent.name)
    raise AssertionError("no log shipper child")


def test_a_killed_shipper_is_restarted_and_nothing_is_doubled(tmp_path, env):
    tracking = f"sqlite:///{tmp_path / 'trk.db'}"
    register_models(tracking, "kil", {"champion": 0.2, "challenger": 0.05})
    args = [
        [
            *_common("kil"),
            "--tracking-uri",
            tracking,
            "--capture-uri",
            str(tmp_path / "cap"),
            "--capture-spool-dir",
            str(tmp_path / "spool"),
        ]
    ]
    (replica,) = start_replicas(args, env, tmp_path)
    try:
        x, _ = stream(600, seed=9)
        first = send(replica.url, x[:300])
        os.kill(_shipper_pid(replica.proc.pid), signal.SIGKILL)
        time.sleep(0.5)  # requests meanwhile: their frames wait for the restarted shipper
        second = send(replica.url, x[300:])
    finally:
        replica.stop()
    assert "restart 1" in replica.log.read_text()
    ids = read_local(tmp_path / "cap", "model=kil").to_table().column("request_id").to_pylist()
    assert len(ids) == len(set(ids)) == 600
    assert set(ids) == {a[0] for a in first + second}


def _count(endpoint: str, bucket: str) -> int:
    _, table = read_s3(endpoint, bucket, "captures/model=out/")
    return 0 if table is None else table.num_rows


def _spooled(spool: Path) -> int:
    files = [str(p) for p in spool.rglob("part-*.parquet")]
    return sum(pq.read_metadata(f).num_rows for f in files)


def _dropped(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('trk_capture_dropped_total{reason="spool_full"')
    )


def test_bucket_down_during_load(s3_uri, s3_endpoint, s3_bucket, tmp_path, env, monkeypatch):
    """Within the spool's bound nothing is lost and /health says degraded meanwhile; past it
    the drops are counted, and every answer is either captured or counted."""
    from ab_serving import wait_until
    from capture_helpers import Proxy

    proxy = Proxy(int(s3_endpoint.rsplit(":", 1)[1]))
    tracking = f"sqlite:///{tmp_path / 'trk.db'}"
    register_models(tracking, "out", {"champion": 0.2, "challenger": 0.05})
    env = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}", "AWS_MAX_ATTEMPTS": "1"}
    base = [
        *_common("out"),
        "--tracking-uri",
        tracking,
        "--no-prediction-log",
        "--capture-uri",
        s3_uri,
        "--capture-flush-s",
        "1",
    ]
    big = [*base, "--capture-spool-dir", str(tmp_path / "spool-big")]
    small = [
        *base,
        "--capture-spool-dir",
        str(tmp_path / "spool-small"),
        "--capture-spool-mb",
        "0.001",
    ]
    x, _ = stream(900, seed=4)
    (replica,) = start_replicas([big], env, tmp_path)
    try:
        send(replica.url, x[:300])
        wait_until(lambda: _count(s3_endpoint, s3_bucket) == 300, timeout=60)
        proxy.down()
        send(replica.url, x[300:600])
        wait_until(lambda: httpx.get(replica.url + "/health").json()["status"] == "degraded", 60)
        proxy.up()
        wait_until(lambda: _count(s3_endpoint, s3_bucket) == 600, timeout=90)
    finally:
        replica.stop()
    proxy.down()
    (replica,) = start_replicas([small], env, tmp_path)
    try:
        for k in range(3):  # three flushes while the bucket is away: the spool takes one file
            send(replica.url, x[600 + 100 * k : 700 + 100 * k])
            time.sleep(1.5)
        spooled = lambda: _spooled(tmp_path / "spool-small")  # noqa: E731
        # Every answer is either in the spool or counted as dropped (once the last file closed).
        wait_until(lambda: spooled() + _dropped(replica.url) == 300, timeout=60)
        kept, dropped = spooled(), _dropped(replica.url)
        assert kept > 0 and dropped > 0
        proxy.up()
    finally:
        replica.stop()
        proxy.down()
    assert _count(s3_endpoint, s3_bucket) - 600 == kept  # what the spool kept, published


def test_shadow_mode_captures_both_answers(tmp_path, env):
    tracking = f"sqlite:///{tmp_path / 'trk.db'}"
    register_models(tracking, "shd", {"champion": 0.2, "challenger": 0.05})
    args = [
        [
            "--model-uri",
            "models:/shd@champion",
            "--challenger-uri",
            "models:/shd@challenger",
            "--mode",
            "shadow",
            "--tracking-uri",
            tracking,
            "--no-prediction-log",
            *local_capture(tmp_path),
        ]
    ]
    (replica,) = start_replicas(args, env, tmp_path)
    try:
        x, y = stream(200, seed=2)
        answers = send(replica.url, x)
        _trk_label = [
            {"request_id": a[0], "label": int(t)} for a, t in zip(answers, y, strict=True)
        ]
        assert httpx.post(replica.url + "/feedback", json=_trk_label).status_code == 200
    finally:
        replica.stop()
    rows = read_local(tmp_path / "cap", "model=shd").to_table().to_pylist()
    by_variant: dict[str, set[str]] = {}
    for row in rows:
        by_variant.setdefault(row["variant"], set()).add(row["request_id"])
    ids = {a[0] for a in answers}
    assert by_variant == {"champion": ids, "challenger": ids} and len(rows) == 400
    report = json.loads(
        _trk("ab", "report", "shd", "--capture-uri", str(tmp_path / "cap"), "--json")
    )
    accuracy = next(c for c in report["comparisons"] if c["metric"] == "accuracy")
    assert accuracy["design"] == "paired" and accuracy["sample"] == 200
