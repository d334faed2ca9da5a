"""Live alias swaps under load, and what `trk-serve` refuses at start."""

from __future__ import annotations

import subprocess
import threading
import time

import httpx
import numpy as np
from routing_helpers import expected
from serving_helpers import IRIS_COLUMNS, TRK_SERVE

from trk.tracking.promotion import promote


def test_alias_swap_under_concurrent_load_loses_no_request(trk_serve, routing_env):
    name = routing_env.new_model("lr", "rf", aliases={"champion": 1, "challenger": 2})
    _, url, log = trk_serve("--model-uri", f"models:/{name}@champion", "--reload-interval-s", "0.2")
    x = routing_env.x
    by_version = {"1": expected(routing_env.lr, x), "2": expected(routing_env.rf, x)}
    differ = np.flatnonzero(by_version["1"] != by_version["2"])
    rows = x[differ[:8]] if len(differ) else x[:8]  # rows where the versions answer differently
    body = {"dataframe_split": {"columns": IRIS_COLUMNS, "data": rows.tolist()}}
    want = {
        v: p[differ[:8]].tolist() if len(differ) else p[:8].tolist() for v, p in by_version.items()
    }
    records: list[tuple[float, float, int, str, object]] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while not stop.is_set():
                started = time.monotonic()
                r = http.post("/invocations", json=body)
                version = r.headers.get("x-trk-model-version", "")
                preds = r.json().get("predictions")
                records.append((started, time.monotonic(), r.status_code, version, preds))

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        promote(routing_env.client(), name)  # champion 1 -> 2, as `trk models promote` does
        deadline = time.monotonic() + 60
        while not any(r[3] == "2" for r in records) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # keep the load on after the swap
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert records and all(r[2] == 200 for r in records), log.read_text()[-2000:]
    assert {r[3] for r in records} == {"1", "2"}
    assert all(r[4] == want[r[3]] for r in records)  # each answer is its version's answer
    first_new = min(r[1] for r in records if r[3] == "2")
    after = [r for r in records if r[0] > first_new]
    assert after and all(r[3] == "2" for r in after)  # once swapped, never the old one again
    health = httpx.get(url + "/health").json()["variants"][0]
    assert (health["version"], health["state"]) == ("2", "ready")


def run_cli(routing_env, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", **routing_env.env}
    return subprocess.run([TRK_SERVE, *args], capture_output=True, text=True, env=env, timeout=120)


def test_refused_at_start_in_one_line(routing_env):
    name = routing_env.new_model("lr", "two")
    base = ["--model-uri", f"models:/{name}/1", "--port", "1"]
    out = run_cli(routing_env, *base, "--challenger-uri", f"models:/{name}/2", "--mode", "shadow")
    assert out.returncode == 1
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("trk-serve: error: Challenger input signature differs")
    assert "columns in the champion, tensors in the challenger" in line
    for flags, message in (
        (
            ["--mode", "split", "--challenger-weight", "1.5"],
            "--challenger-weight must be within [0, 1]",
        ),
        (["--mode", "canary"], "'canary' is not one of"),
    ):
        out = run_cli(routing_env, *base, "--challenger-uri", "models:/iris/2", *flags)
        assert out.returncode != 0 and message in out.stderr, out.stderr


def test_challenger_with_other_inputs_is_refused_unless_allowed(serve, routing_env):
    name = routing_env.new_model("lr", "two")
    uris = {"model_uri": f"models:/{name}/1", "challenger_uri": f"models:/{name}/2"}
    refused = serve(**uris, mode="shadow")
    challenger = httpx.get(refused.url + "/health").json()["variants"][1]
    assert challenger["state"] == "failed"
    assert "Challenger input signature differs" in challenger["error"]
    allowed = serve(**uris, mode="shadow", allow_signature_mismatch=True)
    challenger = httpx.get(allowed.url + "/health").json()["variants"][1]
    assert challenger["state"] == "ready"


def test_reloaded_version_is_optimized_like_the_first(trk_serve, routing_env):
    """--optimize onnx applies to every version an alias move brings in, not just the first."""
    name = routing_env.new_model("lr", "rf", aliases={"champion": 1, "challenger": 2})
    _, url, log = trk_serve(
        "--model-uri",
        f"models:/{name}@champion",
        "--reload-interval-s",
        "0.2",
        "--optimize",
        "onnx",
    )
    before = httpx.get(url + "/metadata").json()
    assert (before["version"], before["optimization"]["onnx"]) == ("1", "converted")
    promote(routing_env.client(), name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = httpx.get(url + "/metadata").json()
        if after["version"] == "2":
            break
        time.sleep(0.1)
    assert after["version"] == "2", log.read_text()[-2000:]
    assert (after["flavor"], after["optimization"]["onnx"]) == ("onnx", "converted")
    rows = routing_env.x[::9]
    body = {"dataframe_split": {"columns": IRIS_COLUMNS, "data": rows.tolist()}}
    answer = httpx.post(url + "/invocations", json=body).json()["predictions"]
    assert answer == expected(routing_env.rf, rows).tolist()
