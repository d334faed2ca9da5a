"""Issue 14, hostile artifact locations and deletes against a real `trk server` process: each
refused with 400, the store and the artifact tree byte for byte as they were, nothing outside
the destination read."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hardening_helpers import raw_request, store_dump, tree
from server_helpers import ServerProcess, start_server

API = "/api/2.0/mlflow/"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
SECRET = b"outside-secret-do-not-serve"


@dataclass
class Site:
    server: ServerProcess
    root: Path  # holds the destination, an allowed root and a secret outside both

    @property
    def dest(self) -> Path:
        return self.root / "dest"

    def snapshot(self) -> tuple[list[str], dict[str, bytes]]:
        return store_dump(self.server.backend), tree(self.root)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("hardening")
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_bytes(SECRET)
    allowed = ("--allowed-artifact-roots", str(root / "allowed"))
    server = start_server(
        f"sqlite:///{root / 'store.db'}", str(root / "dest"), root / "server.log", *allowed
    )
    yield Site(server, root)
    server.kill(signal.SIGTERM)


def _create(site: Site, name: str, location: str) -> httpx.Response:
    body = {"name": name, "artifact_location": location}
    return httpx.post(site.server.url + API + "experiments/create", json=body)


def _hostile_locations(root: Path) -> list[str]:
    outside, dest = root / "outside", root / "dest"
    return [
        f"file://{outside}?",  # the part after '?' was dropped: the root became `outside`
        "file:///?",
        "file:///etc?x",
        "/etc",
        "file:///proc/self",
        str(outside),
        f"file://{outside}",
        f"{dest}/../outside",
        f"{dest}/%2e%2e/outside",
        f"file://{dest}/%252e%252e/outside",
        f"{dest}#frag",
        f"{dest}/x?y",
        f"{dest}2",  # a sibling sharing the prefix
        f"file://evil.example{dest}",
        "s3://other-bucket/x",
        "http://169.254.169.254/latest/meta-data",
        "https://example.com/artifacts",
        "mlflow-artifacts://evil.example/x",
        "mlflow-artifacts:/a/../../outside",
        "mlflow-artifacts:/a?b",
        "../outside",
        "C:/Windows",
    ]


def test_hostile_locations_are_refused_at_create(site):
    before = site.snapshot()
    for location in _hostile_locations(site.root):
        got = _create(site, f"evil {location}", location)
        assert got.status_code == 400, (location, got.text)
        assert got.json()["error_code"] == "INVALID_PARAMETER_VALUE", location
    assert site.snapshot() == before


def test_locations_under_the_roots_are_accepted(site):
    for name, location in (
        ("under-dest", f"{site.dest}/team"),
        ("under-dest-uri", f"file://{site.dest}/team2"),
        ("proxied", "mlflow-artifacts:/team3"),
        ("allowed", str(site.root / "allowed" / "x")),
    ):
        got = _create(site, name, location)
        assert got.status_code == 200, (location, got.text)


def _plant_experiment(site: Site, location: str) -> str:
    """A run whose experiment was stored with `location` before locations were checked."""
    db = sqlite3.connect(site.server.backend.removeprefix("sqlite:///"))
    with db:
        cur = db.execute(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage) "
            "VALUES (?, ?, 'active')",
            (f"planted {location}", location),
        )
    db.close()
    run = httpx.post(
        site.server.url + API + "runs/create", json={"experiment_id": str(cur.lastrowid)}
    )
    assert run.status_code == 200, run.text
    return run.json()["run"]["info"]["run_id"]


def test_stored_hostile_locations_are_never_read(site):
    outside = site.root / "outside"
    for location in (
        f"file://{outside}?",
        str(outside / ".." / "outside"),
        "s3://other/x",
        "http://127.0.0.1:9/api/2.0/mlflow-artifacts/artifacts/x",  # a server-side request
        "mlflow-artifacts://evil.example/x",
    ):
        run_id = _plant_experiment(site, location)
        before = site.snapshot()
        base = site.server.url
        answers = [
            httpx.get(f"{base}/runs/{run_id}/artifacts/secret.txt"),  # dashboard download
            httpx.get(f"{base}/runs/{run_id}"),  # dashboard run page lists the files
            httpx.get(f"{base}/get-artifact", params={"run_id": run_id, "path": "secret.txt"}),
            httpx.get(f"{base}{API}artifacts/list", params={"run_id": run_id}),
        ]
        for got in answers:
            assert got.status_code == 400, (location, got.request.url, got.status_code)
            assert SECRET not in got.content
        assert site.snapshot() == before


def _log_file(site: Site, run_id: str, rel: str, data: bytes) -> None:
    status, body = raw_request(site.server.url, "PUT", f"{PROXY}/0/{run_id}/artifacts/{rel}", data)
    assert status == 200, body


def test_deletes_above_a_runs_artifacts_are_refused(site):
    run = httpx.post(site.server.url + API + "runs/create", json={"experiment_id": "0"}).json()
    run_id = run["run"]["info"]["run_id"]
    _log_file(site, run_id, "keep.txt", b"keep")
    _log_file(site, run_id, "sub/drop.txt", b"drop")
    before = site.snapshot()
    for path in (
        "",
        ".",
        "./",
        "0",
        f"0/{run_id}",
        f"0/{run_id}/",
        f"0/{'f' * 32}/artifacts",  # no such run
        f"1/{run_id}/artifacts",  # the run's id under another experiment
        "0/models",
        "artifacts",
    ):
        status, body = raw_request(site.server.url, "DELETE", f"{PROXY}/{path}")
        assert status == 400, (path, status, body)
        assert b"INVALID_PARAMETER_VALUE" in body
    assert site.snapshot() == before
    status, _ = raw_request(site.server.url, "DELETE", f"{PROXY}/0/{run_id}/artifacts/sub")
    assert status == 200
    files = tree(site.dest)
    assert files[f"0/{run_id}/artifacts/keep.txt"] == b"keep"
    assert f"0/{run_id}/artifacts/sub/drop.txt" not in files
