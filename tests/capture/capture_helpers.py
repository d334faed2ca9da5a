"""Records to capture, an on/off TCP proxy to take a bucket away, and readers that use pyarrow
only (never trk code), so the tests check what any Parquet reader would see."""

from __future__ import annotations

import json
import random
import socket
import threading
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from trk.ab.stats import wilson_interval
from trk.capture.rows import CaptureRecord

HOUR_MS = 3_600_000
T0 = 1_796_515_200_000  # 2026-12-06 00:00 UTC


def records(n: int, start: int = 0, at_ms: int = T0, model: str = "iris", seed: int = 7):
    """n answered requests split between two variants: (record, label) pairs, 20 ms apart.

    The challenger is right 90% of the time, the champion 70%."""
    rng = random.Random(seed + start)
    out = []
    for i in range(start, start + n):
        variant = "challenger" if rng.random() < 0.3 else "champion"
        truth = rng.randint(0, 2)
        right = rng.random() < (0.9 if variant == "challenger" else 0.7)
        pred = truth if right else (truth + 1) % 3
        status = 500 if rng.random() < 0.02 else 200
        rec = CaptureRecord(
            f"req-{i:06d}",
            at_ms + 20 * (i - start),
            model,
            variant,
            "2" if variant == "challenger" else "1",
            0.3 if variant == "challenger" else 0.7,
            status,
            rng.uniform(1, 30),
            [pred] if status == 200 else None,
            [{"sepal_length": 5.1 + i % 7, "petal_width": 0.2, "email": f"u{i}@x.org"}],
        )
        out.append((rec, truth))
    return out


def expected_report(captures: pd.DataFrame, labels: pd.DataFrame) -> dict:
    """The report's figures computed here from the files with pandas."""
    first = labels.sort_values("timestamp").drop_duplicates("request_id")
    df = captures.merge(first[["request_id", "label"]], on="request_id", how="left")
    df["ms"] = (df["timestamp"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    df["pred"] = df["prediction"].map(lambda p: None if pd.isna(p) else json.loads(p)[0])
    df["truth"] = df["label"].map(lambda x: None if pd.isna(x) else json.loads(x))
    df["labelled"] = df["pred"].notna() & df["truth"].notna()
    # A CSV label is text ("1"): numeric classes compare as numbers, as the store's log does.
    same = [
        p == p and t == t and float(p) == float(t)
        for p, t in zip(df["pred"], df["truth"], strict=True)
    ]
    df["correct"] = df["labelled"] & pd.Series(same, index=df.index)
    # The report's windows: a minute, or whole minutes enough to cover the hours the files
    # span in 100 windows (a run that crosses an hour boundary spans two hours).
    hours = df["ms"] // HOUR_MS
    width = 60_000 * max(1, -(-(int(hours.max() - hours.min()) + 1) * 60 // 100))
    out = {}
    for variant, g in df.groupby("variant"):
        wins = g.groupby(g["ms"] // width)["latency_ms"]
        p50 = (wins.quantile(0.5) * wins.size()).sum() / wins.size().sum()
        lab = g[g["labelled"]]
        out[variant] = {
            "requests": len(g),
            "errors": int((g["status"] >= 500).sum()),
            "labelled": int(g["labelled"].sum()),
            "correct": int(g["correct"].sum()),
            "latency_p50_ms": p50,
            "predictions": {
                str(int(k)): int(v) for k, v in g["pred"].dropna().value_counts().items()
            },
            "inverse_sum": float((1 / lab["routing_probability"]).sum()),
            "correct_inverse_sum": float((1 / lab[lab["correct"]]["routing_probability"]).sum()),
        }
    return out


def check_report(report: dict, expected: dict) -> None:
    total_labelled = sum(e["labelled"] for e in expected.values())
    for row in report["variants"]:
        e = expected[row["variant"]]
        assert (row["requests"], row["errors"], row["labelled"], row["correct"]) == (
            e["requests"],
            e["errors"],
            e["labelled"],
            e["correct"],
        )
        assert row["accuracy"] == pytest.approx(e["correct"] / e["labelled"])
        assert row["accuracy_ci"] == pytest.approx(
            list(wilson_interval(e["correct"], e["labelled"], 0.05))
        )
        assert row["error_rate"] == pytest.approx(e["errors"] / e["requests"])
        assert row["latency_p50_ms"] == pytest.approx(e["latency_p50_ms"])
        assert report["predictions"][row["variant"]] == e["predictions"]
    acc = next(c for c in report["comparisons"] if c["metric"] == "accuracy")
    ch, cc = expected["champion"], expected["challenger"]
    assert acc["champion"] == pytest.approx(ch["correct"] / ch["labelled"])
    assert acc["challenger"] == pytest.approx(cc["correct"] / cc["labelled"])
    assert report["verdict"]["outcome"] == "better"
    for ips in report["inverse_propensity"]:
        e = expected[ips["variant"]]
        assert ips["ips_accuracy"] == pytest.approx(e["correct_inverse_sum"] / total_labelled)
        assert ips["snips_accuracy"] == pytest.approx(e["correct_inverse_sum"] / e["inverse_sum"])


def read_local(root: Path, sub: str = "model=iris") -> ds.Dataset:
    """Every published part under root/sub, read by pyarrow (no hive columns added)."""
    files = sorted(str(p) for p in (root / sub).rglob("part-*.parquet"))
    return ds.dataset(files, format="parquet")


def read_s3(endpoint: str, bucket: str, prefix: str):
    """Every published part under s3://bucket/prefix, read by pyarrow's own S3 filesystem."""
    import boto3
    from pyarrow import fs

    s3 = boto3.client("s3", endpoint_url=endpoint)
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    ]
    s3fs = fs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        endpoint_override=endpoint.split("//")[1],
        scheme="http",
    )
    parts = [f"{bucket}/{k}" for k in keys]
    return keys, (pq.read_table(parts, filesystem=s3fs, partitioning=None) if parts else None)


class Proxy:
    """127.0.0.1:port -> upstream; `down()` refuses and cuts connections, `up()` takes them
    again on the same port (an S3 endpoint that goes away and comes back)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self._conns: list[socket.socket] = []
        self._server: socket.socket | None = None
        self.up()

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self._conns.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            if self._server is not server:
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def local_capture(root: Path, flush_s: str = "1") -> list[str]:
    """trk-serve's flags for a capture to root/cap with its spool in root/spool."""
    return [
        "--capture-uri",
        str(root / "cap"),
        "--capture-flush-s",
        flush_s,
        "--capture-spool-dir",
        str(root / "spool"),
    ]
