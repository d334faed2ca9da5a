"""Issue 14, cross-site calls against a real `trk server` process: writes that are not JSON, a
foreign Host (DNS rebinding) and a cross-site Origin are refused and change nothing; dashboard
pages carry a CSP, nosniff and frame-ancestors."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hardening_helpers import raw_request, store_dump, tree
from server_helpers import ServerProcess, start_server

from trk.server.hosts import default_allowed_hosts, host_allowed

API = "/api/2.0/mlflow/"
CREATE = API + "experiments/create"
BODY = b'{"name": "from-a-hostile-page"}'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("http-hardening")
    origins = ("--cors-allowed-origins", "https://notebooks.example")
    proc = start_server(
        f"sqlite:///{root / 'store.db'}", str(root / "dest"), root / "log", *origins
    )
    yield proc
    proc.kill(signal.SIGTERM)


def _state(server: ServerProcess) -> tuple[list[str], dict[str, bytes]]:
    return store_dump(server.backend), tree(Path(server.destination))


def _host(server: ServerProcess) -> str:
    return server.url.removeprefix("http://")


def test_writes_must_be_json(server):
    before = _state(server)
    alias = API + "registered-models/alias?name=m&alias=champion&version=1"
    for path, headers in (
        (CREATE, {"Content-Type": "text/plain"}),  # what a cross-site <form> or fetch sends
        (CREATE, {"Content-Type": "application/x-www-form-urlencoded"}),
        (CREATE, {"Content-Type": "multipart/form-data; boundary=x"}),
        (CREATE, {}),
        (alias, {"Content-Type": "text/plain"}),
    ):
        status, body = raw_request(server.url, "POST", path, BODY, headers)
        assert status == 400, (path, headers, body)
        assert b"Content-Type" in body
    assert _state(server) == before
    ok = {"Content-Type": "application/json; charset=utf-8"}
    assert raw_request(server.url, "POST", CREATE, b'{"name": "json"}', ok)[0] == 200


def test_foreign_hosts_are_refused(server):
    before = _state(server)
    json = {"Content-Type": "application/json"}
    for host in ("evil.example", f"evil.example:{server.url.rsplit(':', 1)[1]}", "127.0.0.2"):
        for method, path, body in (
            ("GET", API + "experiments/get?experiment_id=0", None),
            ("GET", "/", None),  # the dashboard
            ("POST", CREATE, BODY),
        ):
            status, answer = raw_request(server.url, method, path, body, {**json, "Host": host})
            assert status == 403, (host, method, path, answer)
            assert b"DNS rebinding" in answer and b"PERMISSION_DENIED" in answer
    assert _state(server) == before
    port = server.url.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost"):
        got = raw_request(
            server.url, "GET", API + "experiments/get?experiment_id=0", None, {"Host": host}
        )
        assert got[0] == 200, host
    # Probes address a pod by its IP: /health answers whatever the Host.
    assert raw_request(server.url, "GET", "/health", None, {"Host": "10.1.2.3:5000"})[0] == 200


def test_cross_site_origins_are_refused(server):
    before = _state(server)
    json = {"Content-Type": "application/json"}
    port = int(server.url.rsplit(":", 1)[1])
    for origin in (
        "http://evil.example",
        "null",
        "http://localhost:9999",  # another local app (MLflow would let any localhost in)
        f"http://127.0.0.1:{port + 1}",
        f"http://{_host(server)}.evil.example",
    ):
        for method, path in (("POST", CREATE), ("DELETE", API + "registered-models/delete")):
            status, answer = raw_request(server.url, method, path, BODY, {**json, "Origin": origin})
            assert status == 403, (origin, method, answer)
            assert b"Cross-origin request blocked" in answer
    assert _state(server) == before
    for name, origin in (
        ("same", f"http://{_host(server)}"),
        ("listed", "https://notebooks.example"),
    ):
        body = f'{{"name": "{name}"}}'.encode()
        assert raw_request(server.url, "POST", CREATE, body, {**json, "Origin": origin})[0] == 200
    # Reads from another origin are answered, but never with CORS headers a browser would honour.
    got = httpx.get(
        server.url + API + "experiments/get?experiment_id=0",
        headers={"Origin": "http://evil.example"},
    )
    assert got.status_code == 200 and "access-control-allow-origin" not in got.headers


def test_dashboard_pages_carry_security_headers(server):
    for path in ("/", "/models", "/experiments/0", "/static/ui.css", "/runs/nope"):
        got = httpx.get(server.url + path)
        assert got.headers["X-Content-Type-Options"] == "nosniff", path
        csp = got.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert got.headers["X-Frame-Options"] == "DENY", path


def test_allowed_hosts_flag_replaces_the_defaults(server_factory):
    server = server_factory(None, None, "--allowed-hosts", "trk.internal,*.corp.example")
    get = API + "experiments/get?experiment_id=0"
    for host, status in (
        ("trk.internal:5000", 200),
        ("a.corp.example", 200),
        ("corp.example.evil", 403),
        ("localhost", 403),
    ):
        assert raw_request(server.url, "GET", get, None, {"Host": host})[0] == status, host


def test_default_hosts_follow_the_bound_address():
    assert host_allowed("localhost:5000", default_allowed_hosts("127.0.0.1"))
    assert host_allowed("[::1]:5000", default_allowed_hosts("127.0.0.1"))
    assert not host_allowed("10.0.0.5:5000", default_allowed_hosts("127.0.0.1"))
    assert host_allowed("trk.lan:5000", default_allowed_hosts("trk.lan"))
    everywhere = default_allowed_hosts("0.0.0.0")
    assert host_allowed("10.0.0.5:5000", everywhere) and host_allowed("192.168.1.2", everywhere)
    assert not host_allowed("evil.example", everywhere)
    assert not host_allowed("", everywhere)
