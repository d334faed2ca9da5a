"""The capture sink in a process of its own, killed with SIGKILL mid-stream and restarted on
the same spool: every acknowledged row is captured once, and rows sent again are not doubled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from capture_helpers import T0, read_local

DRIVER = str(Path(__file__).with_name("sink_driver.py"))


def _frames(n_frames: int, per_frame: int) -> list[bytes]:
    frames = []
    for seq in range(n_frames):
        items = [
            [
                f"r{seq}-{i}",
                "champion" if i % 3 else "challenger",
                "1",
                [i % 3],
                0.5,
                T0 + seq * 1000 + i,
                False,
                [[1.0, 2.0]],
            ]
            for i in range(per_frame)
        ]
        frames.append(orjson.dumps([seq, "iris", items]) + b"\n")
    return frames


def _start(uri: str, spool: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, DRIVER, uri, str(spool), "250"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout.readline() == b"ready\n"
    return proc


def _send(proc: subprocess.Popen[bytes], frame: bytes) -> int:
    proc.stdin.write(frame)
    proc.stdin.flush()
    return int(proc.stdout.readline())


def test_kill_9_mid_stream_then_restart_loses_nothing_and_doubles_nothing(tmp_path):
    uri, spool = str(tmp_path / "cap"), tmp_path / "spool"
    frames = _frames(40, 30)  # 1200 rows; files close every 250
    proc = _start(uri, spool)
    for frame in frames[:23]:
        acked = _send(proc, frame)
    proc.kill()  # SIGKILL: no drain, rows of the open segment only in the journal
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    assert acked == 22
    # The serving process never read the last ack (lost with the pipe), so it sends frame 22
    # again, then the rest.
    proc = _start(uri, spool)
    for frame in frames[22:]:
        _send(proc, frame)
    proc.stdin.close()
    assert proc.stdout.readline() == b"drained\n"
    proc.wait(timeout=30)
    proc.stdout.close()
    ids = read_local(tmp_path / "cap").to_table().column("request_id").to_pylist()
    assert len(ids) == len(set(ids)) == 1200
