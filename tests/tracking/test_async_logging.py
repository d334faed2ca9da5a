"""Async logging (`trk.config.enable_async_logging()`): calls return while the store cannot
even be written, everything is there after `end_run`, a store's refusal is raised at the
flush, and process exit flushes too."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

import trk
from trk.exceptions import InvalidParameter


@pytest.fixture
def async_uri(tracking_uri):
    trk.config.enable_async_logging()
    yield tracking_uri
    try:
        trk.config.enable_async_logging(False)
    except Exception:  # a test's own failure was already asserted
        pass


def db_path(uri: str) -> str:
    return uri.removeprefix("sqlite:///")


def test_2000_metrics_return_at_once_and_all_arrive(async_uri):
    assert trk.config.is_async_logging_enabled()
    run = trk.start_run()
    run_id = run.info.run_id
    # Another connection holds the database's write lock: a synchronous log_metric would
    # wait on it, an asynchronous one must not.
    blocker = sqlite3.connect(db_path(async_uri), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        for i in range(2000):
            trk.log_metric("loss", 1.0 / (i + 1), step=i)
        elapsed = time.perf_counter() - started
        assert trk.Client().get_metric_history(run_id, "loss") == []  # nothing written yet
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    print(f"2000 log_metric calls returned in {elapsed:.3f} s")
    trk.end_run()
    history = trk.Client().get_metric_history(run_id, "loss")
    assert sorted(m.step for m in history) == list(range(2000))
    assert trk.get_run(run_id).info.status == "FINISHED"


def test_a_store_refusal_is_raised_at_the_flush(async_uri):
    run = trk.start_run()
    trk.log_metric("fine", 1.0)
    trk.log_metric("not a valid key!", 1.0)  # the store refuses it, later
    with pytest.raises(InvalidParameter, match="not a valid key"):
        trk.end_run()
    assert trk.active_run() is None
    assert trk.get_run(run.info.run_id).info.status == "FINISHED"  # ended all the same
    trk.config.flush_async_logging()  # raised once, not again


def test_params_and_tags_keep_their_order(async_uri):
    with trk.start_run() as run:
        trk.set_tag("stage", "first")
        trk.log_params({"a": 1, "b": 2})
        trk.set_tag("stage", "second")
        trk.log_param("a", 1)  # the same value again is fine, as synchronously
    data = trk.get_run(run.info.run_id).data
    assert data.tags["stage"] == "second" and data.params == {"a": "1", "b": "2"}


def test_process_exit_flushes(tracking_uri, tmp_path):
    code = (
        "import trk\n"
        "trk.config.enable_async_logging()\n"
        "run = trk.start_run()\n"
        "print(run.info.run_id)\n"
        "for i in range(500):\n"
        "    trk.log_metric('m', float(i), step=i)\n"
    )  # no end_run: the exit hook sends what is queued
    env = {**os.environ, "TRK_TRACKING_URI": tracking_uri}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    history = trk.Client(tracking_uri).get_metric_history(out.stdout.strip(), "m")
    assert len(history) == 500
