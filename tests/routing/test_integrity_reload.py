"""`trk-serve` and tampered registered versions: refused at start, and never swapped in live."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import httpx
from serving_helpers import IRIS_COLUMNS, TRK_SERVE

from trk.uri import resolve_artifact_uri


def _pinned_copy(routing_env, key: str, name: str) -> str:
    """A private copy of a model's files registered as the next version of `name`."""
    client = routing_env.client()
    files = resolve_artifact_uri(routing_env.sources[key], client.store)
    copy = routing_env.root / f"tamper-{name}-{key}"
    shutil.copytree(files, copy)
    client.create_model_version(name, str(copy))
    return str(copy)


def _reload_failures(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=5).text
    found = re.findall(r'^trk_model_reloads_total\{[^}]*result="failure"[^}]*\} (\S+)$', text, re.M)
    return sum(float(v) for v in found)


def test_tampered_champion_is_refused_at_start_in_one_line(routing_env):
    name = routing_env.new_model()
    copy = _pinned_copy(routing_env, "lr", name)
    with open(f"{copy}/model.pkl", "ab") as f:
        f.write(b"\0")
    env = {"PATH": "/usr/bin:/bin", **routing_env.env}
    out = subprocess.run(
        [TRK_SERVE, "--model-uri", f"models:/{name}/1", "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    line = out.stderr.strip().splitlines()[-1]  # logging may precede it; the error is one line
    assert line.startswith("trk-serve: error: "), out.stderr
    assert "model.pkl" in line and "pinned at registration" in line


def test_running_server_keeps_its_version_across_a_tampered_reload(trk_serve, routing_env):
    name = routing_env.new_model("lr", aliases={"champion": 1})
    copy = _pinned_copy(routing_env, "rf", name)  # version 2
    _, url, log = trk_serve("--model-uri", f"models:/{name}@champion", "--reload-interval-s", "0.2")
    with open(f"{copy}/MLmodel", "a") as f:
        f.write("\n# edited after registration\n")
    routing_env.client().set_registered_model_alias(name, "champion", 2)
    deadline = time.monotonic() + 60
    while _reload_failures(url) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _reload_failures(url) >= 1, log.read_text()[-2000:]
    body = {"dataframe_split": {"columns": IRIS_COLUMNS, "data": routing_env.x[:3].tolist()}}
    r = httpx.post(url + "/invocations", json=body, timeout=10)
    assert r.status_code == 200 and r.headers["x-trk-model-version"] == "1"
    assert "MLmodel" in log.read_text()  # the refusal names the file
