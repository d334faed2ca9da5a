"""Concurrent writers and readers: processes sharing one sqlite file, threads racing aliases."""

from __future__ import annotations

import multiprocessing
import threading
import traceback

from trk.entities import Metric
from trk.exceptions import AlreadyExists
from trk.store.sql import SqlStore

PROCESSES = 4
METRICS_PER_PROCESS = 500


def _log_500(uri: str, run_id: str, worker: int, barrier, errors) -> None:
    """Child process: 500 metrics as single log_metric calls and 5-metric batches."""
    try:
        store = SqlStore(uri, "unused-artifact-root")
        barrier.wait()
        step = 0
        for i in range(METRICS_PER_PROCESS // 5):
            # Each writer's value differs: identical points would be one point (issue 14).
            value = step + worker / 10
            metrics = [
                Metric(f"w{worker}" if j % 2 else "shared", value + j, step + j, step + j)
                for j in range(5)
            ]
            step += 5
            if i % 2:
                store.log_batch(run_id, metrics=metrics)
            else:
                for metric in metrics:
                    store.log_metric(run_id, metric)
    except BaseException:
        errors.put(f"worker {worker}: {traceback.format_exc()}")
        raise


def test_four_processes_log_to_one_sqlite_file(sqlite_store):
    run_id = sqlite_store.create_run("0").info.run_id
    ctx = multiprocessing.get_context("spawn")
    barrier, errors = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(target=_log_500, args=(sqlite_store.uri, run_id, w, barrier, errors))
        for w in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=240)
    failures = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert not failures, "\n".join(failures)  # 'database is locked' would show up here
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    total = sum(
        len(sqlite_store.get_metric_history(run_id, k)) for k in ["shared", "w0", "w1", "w2", "w3"]
    )
    assert total == PROCESSES * METRICS_PER_PROCESS
    for w in range(PROCESSES):
        assert len(sqlite_store.get_metric_history(run_id, f"w{w}")) == 200
    # latest_metrics kept the max by step across every writer
    assert sqlite_store.get_run(run_id).data.metric_objs["shared"].step == 499


def test_alias_moves_while_threads_read(store):
    store.create_model_version("iris", "s3://b/1")
    store.create_model_version("iris", "s3://b/2")
    store.set_registered_model_alias("iris", "champion", 1)
    done = threading.Event()
    seen: list[str] = []
    problems: list[str] = []

    def read() -> None:
        while not done.is_set():
            try:
                version = store.get_model_version_by_alias("iris", "champion").version
            except Exception as exc:  # any error at all is a failure of the atomic move
                problems.append(repr(exc))
                return
            seen.append(version)
            if version not in ("1", "2"):
                problems.append(f"unexpected version {version}")

    readers = [threading.Thread(target=read) for _ in range(8)]
    for thread in readers:
        thread.start()
    try:
        for i in range(200):
            store.set_registered_model_alias("iris", "champion", 2 if i % 2 == 0 else 1)
    finally:
        done.set()
        for thread in readers:
            thread.join(timeout=60)
    assert not problems, problems[:5]
    assert len(seen) > 0 and set(seen) <= {"1", "2"}
    assert store.get_model_version_by_alias("iris", "champion").version == "1"


def test_concurrent_version_creators_get_distinct_numbers(store):
    store.create_registered_model("iris")
    made: list[str] = []
    problems: list[str] = []

    def create() -> None:
        try:
            for _ in range(5):
                made.append(store.create_model_version("iris", "s3://b/x").version)
        except Exception as exc:
            problems.append(repr(exc))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not problems, problems
    assert sorted(made, key=int) == [str(v) for v in range(1, 31)]


def test_racing_creators_of_one_name_get_already_exists(store):
    # Both may pass the "name taken?" check; the unique constraint must then say AlreadyExists.
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def create() -> None:
        barrier.wait()
        try:
            store.create_experiment("same")
            outcomes.append("created")
        except AlreadyExists:
            outcomes.append("exists")
        except Exception as exc:
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["created"] + ["exists"] * 5
