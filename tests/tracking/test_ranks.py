"""Rank-0 logging with two real processes, as torchrun starts them (RANK, LOCAL_RANK,
WORLD_SIZE in the environment): one run, from rank 0; rank 1 says so once at INFO."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import trk
from trk.store.sql import SqlStore

SCRIPT = """
import logging, sys
import trk
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
with trk.start_run(run_name="train") as run:
    trk.log_param("lr", 0.1)
    trk.log_metrics({"loss": 0.5, "acc": 0.9}, step=1)
    trk.set_tag("rank", sys.argv[1])
    trk.log_artifact(sys.argv[2])
    print("run_id=" + run.info.run_id)
with trk.start_run(run_name="eval"):
    trk.log_metric("val_loss", 0.4)
"""

AUTOLOG = """
import numpy as np
import trk, trk.sklearn
from sklearn.linear_model import LogisticRegression
trk.sklearn.autolog()
X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
LogisticRegression().fit(X, y)
"""


def launch(rank: int, code: str, uri: str, tmp_path, **extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "TRK_LOG_ALL_RANKS"}
    env |= {
        "TRK_TRACKING_URI": uri,
        "TRK_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": "2",
        **extra,
    }
    note = tmp_path / f"note{rank}.txt"
    note.write_text(f"rank {rank}")
    return subprocess.Popen(
        [sys.executable, "-c", code, str(rank), str(note)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def both(code: str, uri: str, tmp_path, **extra: str) -> list[tuple[str, str]]:
    procs = [launch(rank, code, uri, tmp_path, **extra) for rank in (0, 1)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    return outs


@pytest.fixture
def uri(tmp_path) -> str:
    uri = f"sqlite:///{tmp_path / 'trk.db'}"
    SqlStore(uri, str(tmp_path / "artifacts"))  # migrated once, before the ranks start
    return uri


def runs(uri: str):
    return trk.Client(uri).search_runs(["0"])


def test_only_rank_zero_logs(uri, tmp_path):
    (out0, _), (out1, err1) = both(SCRIPT, uri, tmp_path)
    found = runs(uri)
    assert sorted(r.info.run_name for r in found) == ["eval", "train"]
    train = next(r for r in found if r.info.run_name == "train")
    assert out0.strip() == f"run_id={train.info.run_id}"
    assert train.data.tags["rank"] == "0" and train.data.params == {"lr": "0.1"}
    assert [f.path for f in trk.Client(uri).list_artifacts(train.info.run_id)] == ["note0.txt"]
    assert out1.strip() == "run_id="  # rank 1's run has no id and stored nothing
    said = [line for line in err1.splitlines() if "is not rank 0" in line]
    assert len(said) == 1 and said[0].startswith("INFO trk.tracking")


def test_log_all_ranks_turns_it_off(uri, tmp_path):
    both(SCRIPT, uri, tmp_path, TRK_LOG_ALL_RANKS="1")
    train = [r for r in runs(uri) if r.info.run_name == "train"]
    assert sorted(r.data.tags["rank"] for r in train) == ["0", "1"]


def test_autolog_obeys(uri, tmp_path):
    both(AUTOLOG, uri, tmp_path)
    found = runs(uri)
    assert len(found) == 1 and found[0].data.params  # rank 0's fit, with its params
    models, _ = trk.Client(uri).search_logged_models(["0"])
    assert [m.source_run_id for m in models] == [found[0].info.run_id]


DDP = """
import torch.distributed as dist
import trk
dist.init_process_group("gloo")
with trk.start_run(run_name="ddp"):
    trk.log_metric("loss", 0.1 * (dist.get_rank() + 1))
dist.barrier()
dist.destroy_process_group()
"""


def test_torchrun_on_gloo_makes_one_run(uri, tmp_path):
    pytest.importorskip("torch.distributed")
    script = tmp_path / "ddp.py"
    script.write_text(DDP)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    env |= {"TRK_TRACKING_URI": uri, "TRK_ARTIFACT_ROOT": str(tmp_path / "artifacts")}
    env.pop("TRK_LOG_ALL_RANKS", None)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            str(script),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (run,) = runs(uri)
    assert run.info.run_name == "ddp" and run.data.metrics == {"loss": 0.1}  # rank 0's
