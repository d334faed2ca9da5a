"""Issue 19: artifact downloads as `mlflow server` sends them: an attachment, a type from the
name (whatever the client asks for), and `X-Content-Type-Options: nosniff`."""

from __future__ import annotations

import pytest
import requests
from mlflow import MlflowClient

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("a.txt", "text/plain"),
        ("MLmodel", "text/plain"),
        ("b.pkl", "application/octet-stream"),
        ("c.png", "image/png"),
        ("page.html", "text/html"),
    ],
)
def test_proxy_and_run_downloads_are_attachments(server, tmp_path, name, mime):
    assert requests.put(f"{server.url}{PROXY}/dir/{name}", data=b"x").ok
    got = requests.get(f"{server.url}{PROXY}/dir/{name}", headers={"Accept": "text/html"})
    assert got.headers["Content-Type"] == mime
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"] == f"attachment; filename={name}"

    client = MlflowClient(server.url)
    run_id = client.create_run(client.create_experiment(f"dl-{name}")).info.run_id
    (tmp_path / name).write_bytes(b"x")
    client.log_artifact(run_id, str(tmp_path / name))
    got = requests.get(f"{server.url}/get-artifact", params={"run_id": run_id, "path": name})
    assert got.content == b"x"
    assert got.headers["Content-Type"] == mime
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_odd_names_get_an_encoded_filename(server):
    assert requests.put(f"{server.url}{PROXY}/r\u00e9sum\u00e9 1.txt", data=b"x").ok
    got = requests.get(f"{server.url}{PROXY}/r\u00e9sum\u00e9 1.txt")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%201.txt" in got.headers["Content-Disposition"]
