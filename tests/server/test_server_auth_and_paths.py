"""Bearer-token auth on every route but /health, and artifact paths confined to the root."""

from __future__ import annotations

import http.client
from urllib.parse import urlparse

import httpx
import pytest

from trk.exceptions import Unauthenticated

API = "/api/2.0/mlflow/"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


TOKEN = "s3cret-token-of-32-characters-xy"


def test_auth_token_required_everywhere_but_health(server_factory, monkeypatch, rest_stores):
    server = server_factory(None, None, env={"TRK_AUTH_TOKEN": TOKEN})
    assert httpx.get(server.url + "/health").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        for method, path in (
            ("GET", API + "experiments/get?experiment_id=0"),
            ("POST", API + "experiments/create"),
            ("GET", PROXY + "?path="),
        ):
            response = httpx.request(method, server.url + path, headers=headers, json={"name": "x"})
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["error_code"] == "UNAUTHENTICATED"
    with pytest.raises(Unauthenticated):
        rest_stores(server.url, token="wrong").create_experiment("nope")
    # The token from the environment (what `trk` clients use) is sent.
    monkeypatch.setenv("TRK_TRACKING_TOKEN", TOKEN)
    store = rest_stores(server.url)
    exp_id = store.create_experiment("yes")
    assert [e.name for e in store.search_experiments()] == ["yes", "Default"]
    assert store.get_experiment(exp_id).name == "yes"


def test_no_auth_token_means_open(server):
    assert httpx.get(server.url + API + "experiments/get?experiment_id=0").status_code == 200


def _raw(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """Send `path` byte for byte (httpx would normalise the dots away)."""
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


TRAVERSALS = [
    "../secret.txt",
    "a/../../secret.txt",
    "%2e%2e/secret.txt",
    "%2E%2E%2Fsecret.txt",
    "a/%2e%2e/%2e%2e/secret.txt",
    "%252e%252e/secret.txt",
    "..%5csecret.txt",
    "/%2e%2e/secret.txt",
    "%2Fetc/passwd",
]


def test_traversal_is_refused(server, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    for bad in TRAVERSALS:
        for method, body in (("GET", None), ("PUT", b"overwritten"), ("DELETE", None)):
            status, payload = _raw(server.url, method, f"{PROXY}/{bad}", body)
            assert status == 400, (method, bad, payload)
            assert b"INVALID_PARAMETER_VALUE" in payload
            assert b"top secret" not in payload
        status, payload = _raw(server.url, "GET", f"{PROXY}?path={bad}")
        assert status == 400, (bad, payload)
    assert secret.read_text() == "top secret"
    assert [p.name for p in tmp_path.iterdir() if p.name == "overwritten"] == []


def test_proxy_upload_download_list(server, tmp_path):
    status, _ = _raw(server.url, "PUT", f"{PROXY}/1/run/artifacts/dir/f.txt", b"data")
    assert status == 200
    assert (tmp_path / "artifacts0/1/run/artifacts/dir/f.txt").read_bytes() == b"data"
    assert httpx.get(f"{server.url}{PROXY}/1/run/artifacts/dir/f.txt").content == b"data"
    listed = httpx.get(f"{server.url}{PROXY}", params={"path": "1/run/artifacts"}).json()
    assert listed == {"files": [{"path": "dir", "is_dir": True}]}
    missing = httpx.get(f"{server.url}{PROXY}/1/run/artifacts/nope.txt")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_no_serve_artifacts_has_no_proxy(server_factory, tmp_path, rest_stores):
    server = server_factory(None, str(tmp_path / "dest"), "--no-serve-artifacts")
    assert httpx.get(f"{server.url}{PROXY}?path=").status_code == 404
    exp = rest_stores(server.url).get_experiment("0")
    assert exp.artifact_location == f"{tmp_path / 'dest'}/0"
