"""Three real `trk-serve` replicas share one PostgreSQL store: two write to it directly, one
through a real `trk server`. Labels go to the wrong replica, to the server, twice, and late
in bulk from a file after the replicas stopped; the store's join and the A/B report count
every label exactly once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest
from ab_serving import STICKY_HEADER, register_models, send, start_replicas, stream

from trk.ab.evaluation import evaluate
from trk.tracking.client import Client

pytestmark = pytest.mark.e2e

sys.path.insert(0, str(Path(__file__).parent.parent / "server"))
from server_helpers import start_server  # noqa: E402

N = 240
TRK = str(Path(sys.executable).parent / "trk")


def test_every_label_counts_once_across_replicas_servers_and_files(pg_uri, tmp_path, monkeypatch):
    env = {"TRK_ARTIFACT_ROOT": str(tmp_path / "artifacts"), "TRK_MODEL_CACHE": str(tmp_path / "c")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    versions = register_models(pg_uri, "rep", {"champion": 0.2, "challenger": 0.05})
    server = start_server(pg_uri, str(tmp_path / "artifacts"), tmp_path / "server.log")
    try:
        labels_of_three(server, pg_uri, tmp_path, env, versions)
    finally:
        server.kill()


def labels_of_three(server, pg_uri, tmp_path, env, versions) -> None:
    common = [
        "--model-uri",
        "models:/rep@champion",
        "--challenger-uri",
        "models:/rep@challenger",
        "--mode",
        "split",
        "--challenger-weight",
        "0.5",
        "--sticky-header",
        STICKY_HEADER,
        "--report-interval-s",
        "1",
    ]
    stores = [pg_uri, pg_uri, server.url]
    replicas = start_replicas([[*common, "--tracking-uri", s] for s in stores], env, tmp_path)
    try:
        x, y = stream(N, seed=11)
        answers: list = [None] * N
        for k, r in enumerate(replicas):  # row i is served by replica i % 3
            for i, a in zip(range(k, N, 3), send(r.url, x[k::3], threads=2), strict=True):
                answers[i] = a
        assert [a[2] for a in answers] == [200] * N
        label = [{"request_id": a[0], "label": int(t)} for a, t in zip(answers, y, strict=True)]
        third = N // 3
        # 1) To the wrong replica, at once: most arrive before the answer is even flushed.
        for i in range(third):
            wrong = replicas[(i + 1) % 3].url
            assert httpx.post(wrong + "/feedback", json=label[i]).json()["stored"] == 1
        # 2) A label sent twice, to yet another replica: refused (written once), still one.
        again = httpx.post(replicas[2].url + "/feedback", json=label[:20])
        assert again.status_code == 409, again.text
        assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
        # 3) Straight to the tracking server (pending, 202, where no replica flushed yet).
        resp = httpx.post(
            server.url + "/api/2.0/mlflow/trk/labels/log",
            json={"model": "rep", "labels": label[third : 2 * third]},
        )
        assert resp.status_code in (200, 202) and resp.json()["written"] == third, resp.text
    finally:
        for r in replicas:
            r.stop()  # graceful: each flushes what it still holds
    # 4) Days later, in bulk from a file, through the server.
    late = tmp_path / "late.jsonl"
    late.write_bytes(b"\n".join(orjson.dumps(item) for item in label[2 * third :]))
    done = subprocess.run(
        [TRK, "ab", "label", "rep", "--file", str(late), "--tracking-uri", server.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    expected = {}
    for (_, variant, _, pred), truth in zip(answers, y, strict=True):
        labelled, correct = expected.get(variant, (0, 0))
        expected[variant] = (labelled + 1, correct + int(pred == truth))
    client = Client(pg_uri)
    joined = client.store.predictions.joined("rep")
    assert {(c.variant, c.version) for c in joined} == {(v, versions[v]) for v in expected}
    assert {c.variant: (c.labelled, c.correct) for c in joined} == expected
    assert sum(c.logged for c in joined) == N
    report = evaluate(client, "rep")
    assert report.labels == "store"
    assert {v.variant: (v.labelled, v.correct) for v in report.variants} == expected
    assert (
        sum(
            np.isclose(v.accuracy, expected[v.variant][1] / expected[v.variant][0])
            for v in report.variants
        )
        == 2
    )
