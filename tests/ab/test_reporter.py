"""The reporter: windows logged as serving runs in a real sqlite store, outages buffered."""

from __future__ import annotations

import logging
import subprocess
import time

import pytest
from prometheus_client import CollectorRegistry, Counter

from trk.entities import RunStatus
from trk.serving.online.feedback import FeedbackStore
from trk.serving.online.reporter import Reporter
from trk.serving.online.window_stats import VariantInfo
from trk.tracking.client import Client

INFOS = [
    VariantInfo("champion", "models:/m@champion", "1", "split", 0.7),
    VariantInfo("challenger", "models:/m@challenger", "2", "split", 0.3),
]


def make(client_factory, **kw):
    kw.setdefault("variants", lambda: INFOS)
    return Reporter(client_factory, "serving/m", interval_s=3600, host="h1", **kw)


def history(client, run_id, key):
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def runs_by_variant(client):
    exp = client.get_experiment_by_name("serving/m")
    return {r.data.params["variant"]: r for r in client.search_runs(exp.experiment_id, "")}


def test_windows_become_runs_with_params_tags_and_steps(client):
    fb = FeedbackStore()
    shadow = {"challenger": {"shadow_compared": 4.0, "shadow_agreed": 3.0}}
    rep = make(lambda: client, sources=[fb.counters, lambda: shadow])
    for i in range(100):
        rep.observe("champion", 0.001 * (i + 1), ok=i != 0)
    rep.observe_predictions("champion", [0, 1, 1])
    fb.record("r1", "champion", [1])
    fb.record("r2", "challenger", [2])
    fb.submit([{"request_id": "r1", "label": 1}, {"request_id": "r2", "label": 0}])
    rep.close_window()
    assert rep.flush()
    rep.observe("challenger", 0.002, ok=True)
    rep.close_window()
    rep.stop(timeout_s=5)
    runs = runs_by_variant(client)
    champ, chal = runs["champion"], runs["challenger"]
    assert champ.data.params == {
        "model_uri": "models:/m@champion",
        "model_version": "1",
        "variant": "champion",
        "mode": "split",
        "weight": "0.7",
    }
    assert champ.data.tags["trk.serving"] == "true" and champ.data.tags["trk.host"] == "h1"
    assert champ.info.status == RunStatus.FINISHED == chal.info.status
    cid = champ.info.run_id
    assert history(client, cid, "requests") == [(0, 100.0), (1, 0.0), (2, 0.0)]
    assert history(client, cid, "errors")[0] == (0, 1.0)
    assert history(client, cid, "latency_p50_ms")[0][1] == pytest.approx(50.5)
    assert history(client, cid, "latency_p99_ms")[0][1] == pytest.approx(99.01)
    assert history(client, cid, "accuracy") == [(0, 1.0)]
    assert history(client, cid, "pred.1") == [(0, 2.0)]
    assert history(client, cid, "model_version")[0] == (0, 1.0)
    xid = chal.info.run_id
    assert history(client, xid, "correct")[0] == (0, 0.0)
    assert history(client, xid, "shadow_agreement")[0] == (0, 0.75)
    # Cumulative counters become per-window deltas: nothing new in later windows.
    assert history(client, xid, "shadow_compared") == [(0, 4.0), (1, 0.0), (2, 0.0)]
    assert history(client, xid, "requests")[1] == (1, 1.0)


def test_store_down_buffers_drops_oldest_then_flushes(tmp_path, caplog):
    # A sqlite file in a directory that does not exist yet: every call fails, for real.
    uri = f"sqlite:///{tmp_path / 'later' / 'trk.db'}"
    registry = CollectorRegistry()
    dropped = Counter("trk_reporter_dropped_windows_total", "d", registry=registry)
    one = [INFOS[0]]
    rep = make(lambda: Client(uri), variants=lambda: one, buffer_windows=2, dropped=dropped)
    with caplog.at_level(logging.WARNING, "trk.serving.online.reporter"):
        for n in range(5):
            rep.observe("champion", 0.01, ok=True)
            for _ in range(n):
                rep.observe("champion", 0.01, ok=True)
            rep.close_window()
            assert rep.flush() is False
    outage = [r for r in caplog.records if "tracking store unavailable" in r.message]
    assert len(outage) == 1  # warned once for the whole outage
    assert rep.pending == 2 and rep.dropped_windows == 3
    assert registry.get_sample_value("trk_reporter_dropped_windows_total") == 3
    (tmp_path / "later").mkdir()
    with caplog.at_level(logging.WARNING, "trk.serving.online.reporter"):
        assert rep.flush() is True
    assert any("tracking store is back: logged 2" in r.message for r in caplog.records)
    client = Client(uri)
    run = runs_by_variant(client)["champion"]
    assert history(client, run.info.run_id, "requests") == [(3, 4.0), (4, 5.0)]


def test_threads_close_windows_and_stop_finishes(client):
    rep = Reporter(lambda: client, "serving/m", lambda: INFOS[:1], interval_s=0.05, host="h1")
    rep.start()
    rep.observe("champion", 0.003, ok=True)
    deadline = time.monotonic() + 10
    while rep.runs.run_ids.get("champion") is None and time.monotonic() < deadline:
        time.sleep(0.02)
    rep.stop(timeout_s=5)
    run = runs_by_variant(client)["champion"]
    assert run.info.status == RunStatus.FINISHED
    assert sum(v for _, v in history(client, run.info.run_id, "requests")) == 1


def test_start_marks_this_hosts_abandoned_runs_killed(client):
    exp = client.create_experiment("serving/m")
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names no process
    tags = {"trk.serving": "true", "trk.host": "h1"}
    dead = client.create_run(exp, tags={**tags, "trk.pid": str(gone.pid)}).info.run_id
    alive = client.create_run(exp, tags={**tags, "trk.pid": "1"}).info.run_id
    other = client.create_run(exp, tags={**tags, "trk.host": "h2", "trk.pid": str(gone.pid)})
    rep = make(lambda: client, variants=lambda: INFOS[:1])
    rep.close_window()
    assert rep.flush()
    assert client.get_run(dead).info.status == RunStatus.KILLED
    assert client.get_run(alive).info.status == RunStatus.RUNNING
    assert client.get_run(other.info.run_id).info.status == RunStatus.RUNNING


@pytest.mark.parametrize(
    "predictions",
    [[1], [0, 2, 2], [True, False, True], ["setosa", "virginica", "setosa"]],
    ids=["one-int", "ints", "bools", "strings"],
)
def test_class_counts_are_the_same_one_by_one_and_in_bulk(predictions):
    """Small batches are counted in a loop, large ones with np.unique: the keys must agree."""
    import numpy as np

    from trk.serving.online.records import SMALL_BATCH
    from trk.serving.online.window_stats import WindowStats

    small, bulk = WindowStats(), WindowStats()
    small.observe_classes(np.asarray(predictions))
    repeats = SMALL_BATCH // len(predictions) + 1
    bulk.observe_classes(np.asarray(predictions * repeats))
    assert small.classes and {k: v * repeats for k, v in small.classes.items()} == bulk.classes


def test_a_window_spanning_an_alias_move_logs_each_version_its_own_requests(client):
    # The champion moves from version 1 to 2 mid-window: before the fix, all of the window's
    # requests were logged under version 2 (whatever served at close).
    from trk.serving.online.records import Batch, Record

    serving = {"champion": "1"}

    def requests(version, n):
        return Batch(
            [Record(f"r{i}", 0.0, "champion", version, "m", 1.0, 200, 0.001) for i in range(n)]
        )

    def infos():
        return [VariantInfo("champion", "models:/m@champion", serving["champion"], "single", 1)]

    rep = make(lambda: client, variants=infos)
    rep.fold(requests("1", 30))
    serving["champion"] = "2"
    rep.fold(requests("2", 5))
    closed = rep.close_window()
    rep.fold(requests("2", 1))
    closed += rep.close_window()
    assert [(w.step, w.info.model_version, w.metrics["requests"]) for w in closed] == [
        (0, "1", 30.0),
        (1, "2", 5.0),
        (2, "2", 1.0),
    ]
    assert rep.flush()
    champ = runs_by_variant(client)["champion"].info.run_id
    assert history(client, champ, "model_version") == [(0, 1.0), (1, 2.0), (2, 2.0)]
    rep.stop(timeout_s=5)
