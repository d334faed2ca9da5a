"""`trk server --app-name basic-auth` through the real `mlflow` client and trk's CLI: MLflow's
permission semantics, tokens, and protected aliases that need a second person."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import ServerProcess, start_server

ADMIN = ("admin", "admin-password-1234")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("basic-auth")
    ini = tmp / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///ignored.db\n"
        f"admin_username = {ADMIN[0]}\nadmin_password = {ADMIN[1]}\n"
    )
    server = start_server(
        f"sqlite:///{tmp / 'store.db'}",
        str(tmp / "artifacts"),
        tmp / "server.log",
        "--app-name",
        "basic-auth",
        "--protected-alias",
        "champion",
        env={"MLFLOW_AUTH_CONFIG_PATH": str(ini)},
    )
    yield server
    server.kill()


def new_user(server: ServerProcess) -> tuple[str, str]:
    name, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    answer = httpx.post(
        f"{server.url}/api/2.0/mlflow/users/create",
        json={"username": name, "password": password},
        auth=ADMIN,
    )
    assert answer.status_code == 200, answer.text
    return name, password


def grant(
    server: ServerProcess, who: tuple[str, str], kind: str, key: str, user: str, perm: str
) -> httpx.Response:
    path = "experiments" if kind == "experiment" else "registered-models"
    field = "experiment_id" if kind == "experiment" else "name"
    return httpx.post(
        f"{server.url}/api/2.0/mlflow/{path}/permissions/create",
        json={field: key, "username": user, "permission": perm},
        auth=who,
    )


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch, auth_server: ServerProcess):  # noqa: ANN201
    """`as_user((name, password))`: an `mlflow.MlflowClient` signed in as that user."""
    from mlflow import MlflowClient

    def make(user: tuple[str, str]) -> MlflowClient:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", user[1])
        return MlflowClient(auth_server.url, auth_server.url)

    return make


def denied(call, code: str = "PERMISSION_DENIED") -> str:  # noqa: ANN001
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as caught:
        call()
    assert caught.value.error_code == code, caught.value
    return str(caught.value)


def test_without_credentials_401(auth_server: ServerProcess) -> None:
    answer = httpx.post(f"{auth_server.url}/api/2.0/mlflow/experiments/search", json={})
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "UNAUTHENTICATED"
    wrong = httpx.post(
        f"{auth_server.url}/api/2.0/mlflow/experiments/search", json={}, auth=("admin", "nope")
    )
    assert wrong.status_code == 401
    assert httpx.get(f"{auth_server.url}/health").status_code == 200


def test_read_cannot_write_edit_cannot_grant_manage_can(
    auth_server: ServerProcess, as_user
) -> None:  # noqa: ANN001
    owner, reader, editor = new_user(auth_server), new_user(auth_server), new_user(auth_server)
    exp = as_user(owner).create_experiment(f"e-{uuid.uuid4().hex[:6]}")  # creator: MANAGE
    assert grant(auth_server, owner, "experiment", exp, reader[0], "READ").status_code == 200
    assert grant(auth_server, owner, "experiment", exp, editor[0], "EDIT").status_code == 200

    read_client = as_user(reader)
    assert read_client.get_experiment(exp).experiment_id == exp
    denied(lambda: read_client.create_run(exp))
    denied(lambda: read_client.set_experiment_tag(exp, "k", "v"))

    edit_client = as_user(editor)
    run = edit_client.create_run(exp)
    edit_client.log_metric(run.info.run_id, "m", 1.0)
    stranger = new_user(auth_server)[0]
    refused = grant(auth_server, editor, "experiment", exp, stranger, "READ")
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    denied(lambda: edit_client.delete_experiment(exp))
    assert grant(auth_server, owner, "experiment", exp, stranger, "READ").status_code == 200


def test_no_permissions_hides_the_experiment(auth_server: ServerProcess, as_user) -> None:  # noqa: ANN001
    owner, outsider = new_user(auth_server), new_user(auth_server)
    name = f"hidden-{uuid.uuid4().hex[:6]}"
    exp = as_user(owner).create_experiment(name)
    assert (
        grant(auth_server, owner, "experiment", exp, outsider[0], "NO_PERMISSIONS").status_code
        == 200
    )
    client = as_user(outsider)
    assert name not in {e.name for e in client.search_experiments(max_results=1000)}
    denied(lambda: client.get_experiment(exp))
    run_id = as_user(owner).create_run(exp).info.run_id
    client = as_user(outsider)
    assert client.search_runs([exp]) == []
    denied(lambda: client.get_run(run_id))
    assert name in {e.name for e in as_user(owner).search_experiments(max_results=1000)}


def trk(
    *args: str, user: tuple[str, str], server: ServerProcess
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TRK_TRACKING_URI": server.url,
        "TRK_TRACKING_USERNAME": user[0],
        "TRK_TRACKING_PASSWORD": user[1],
    }
    for name in ("TRK_TRACKING_TOKEN", "MLFLOW_TRACKING_TOKEN"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "trk.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_protected_alias_needs_a_second_user(
    auth_server: ServerProcess, as_user, tmp_path: Path
) -> None:  # noqa: ANN001
    owner, second = new_user(auth_server), new_user(auth_server)
    name = f"m-{uuid.uuid4().hex[:6]}"
    client = as_user(owner)
    client.create_registered_model(name)
    client.create_model_version(name, "mlflow-artifacts:/0/model")
    assert (
        grant(auth_server, owner, "registered_model", name, second[0], "MANAGE").status_code == 200
    )

    message = denied(lambda: client.set_registered_model_alias(name, "champion", "1"))
    assert "request-promotion" in message
    client.set_registered_model_alias(name, "staging", "1")  # unprotected aliases still move

    asked = trk(
        "models",
        "request-promotion",
        name,
        "1",
        "--alias",
        "champion",
        "--json",
        user=owner,
        server=auth_server,
    )
    assert asked.returncode == 0, asked.stderr
    request_id = __import__("json").loads(asked.stdout)["request_id"]

    own = trk("models", "approve-promotion", name, request_id, user=owner, server=auth_server)
    assert own.returncode != 0 and "cannot approve" in own.stderr
    denied(lambda: client.get_model_version_by_alias(name, "champion"), "RESOURCE_DOES_NOT_EXIST")

    done = trk("models", "approve-promotion", name, request_id, user=second, server=auth_server)
    assert done.returncode == 0, done.stderr
    assert client.get_model_version_by_alias(name, "champion").version == "1"

    shown = trk("models", "describe", name, user=second, server=auth_server)
    assert f"by {owner[0]}, approved by {second[0]}" in shown.stdout
    again = trk("models", "approve-promotion", name, request_id, user=second, server=auth_server)
    assert again.returncode != 0 and "already approved" in again.stderr


def test_request_promotion_needs_edit_and_prints_the_id(
    auth_server: ServerProcess, as_user
) -> None:  # noqa: ANN001
    owner, reader = new_user(auth_server), new_user(auth_server)
    name = f"m-{uuid.uuid4().hex[:6]}"
    as_user(owner).create_registered_model(name)
    as_user(owner).create_model_version(name, "mlflow-artifacts:/0/model")
    refused = trk(
        "models",
        "request-promotion",
        name,
        "1",
        "--alias",
        "champion",
        user=reader,
        server=auth_server,
    )
    assert refused.returncode != 0 and "Permission denied" in refused.stderr
    asked = trk(
        "models",
        "request-promotion",
        name,
        "1",
        "--alias",
        "champion",
        user=owner,
        server=auth_server,
    )
    assert asked.stdout.startswith("request id: ")
    request_id = asked.stdout.split(": ", 1)[1].strip()
    admin_rejects = trk(
        "models", "reject-promotion", name, request_id, user=ADMIN, server=auth_server
    )
    assert "rejected" in admin_rejects.stdout
    denied(
        lambda: as_user(owner).get_model_version_by_alias(name, "champion"),
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_tokens_sign_machines_in_until_revoked(
    auth_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user(auth_server)
    made = trk("users", "token", "create", "--name", "ci", "--json", user=user, server=auth_server)
    assert made.returncode == 0, made.stderr
    token = __import__("json").loads(made.stdout)
    listed = trk("users", "token", "list", user=user, server=auth_server)
    assert "ci" in listed.stdout and token["token"] not in listed.stdout

    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token["token"])
    exp = MlflowClient(auth_server.url).create_experiment(f"tok-{uuid.uuid4().hex[:6]}")
    me = httpx.get(
        f"{auth_server.url}/api/2.0/mlflow/users/current",
        headers={"Authorization": f"Bearer {token['token']}"},
    )
    assert me.json()["user"]["username"] == user[0]
    assert (
        trk("users", "token", "revoke", str(token["id"]), user=user, server=auth_server).returncode
        == 0
    )
    denied(lambda: MlflowClient(auth_server.url).get_experiment(exp), "UNAUTHENTICATED")


def test_the_dashboard_lists_only_readable_experiments(auth_server: ServerProcess, as_user) -> None:  # noqa: ANN001
    owner, outsider = new_user(auth_server), new_user(auth_server)
    name = f"dash-{uuid.uuid4().hex[:6]}"
    exp = as_user(owner).create_experiment(name)
    grant(auth_server, owner, "experiment", exp, outsider[0], "NO_PERMISSIONS")
    assert name in httpx.get(f"{auth_server.url}/", auth=owner).text
    assert name not in httpx.get(f"{auth_server.url}/", auth=outsider).text
    assert httpx.get(f"{auth_server.url}/experiments/{exp}", auth=outsider).status_code == 403


def test_every_route_states_a_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trk.server.app import API_PREFIXES, create_app, store_for_server
    from trk.server.basic_auth.app import rule_table

    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "route-table-check")
    store = store_for_server(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a"), True)
    app = create_app(store, str(tmp_path / "a"), app_name="basic-auth")
    table, missing = rule_table(app.routes, API_PREFIXES)
    assert missing == [], f"routes without a stated permission: {missing}"
    assert len(table) > 250  # every API route under three prefixes, files, dashboard


def test_a_rollout_of_a_protected_champion_waits_for_a_second_user(
    auth_server: ServerProcess, as_user
) -> None:  # noqa: ANN001
    import json
    import time

    starter, second = new_user(auth_server), new_user(auth_server)
    name = f"r-{uuid.uuid4().hex[:6]}"
    client = as_user(starter)
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, "mlflow-artifacts:/0/model")
    assert (
        grant(auth_server, starter, "registered_model", name, second[0], "MANAGE").status_code
        == 200
    )
    first = trk(
        "models",
        "request-promotion",
        name,
        "1",
        "--alias",
        "champion",
        "--json",
        user=starter,
        server=auth_server,
    )
    request_id = json.loads(first.stdout)["request_id"]
    assert (
        trk(
            "models", "approve-promotion", name, request_id, user=second, server=auth_server
        ).returncode
        == 0
    )
    client.set_registered_model_alias(name, "challenger", "2")

    started = trk(
        "rollout",
        "start",
        name,
        "--steps",
        "50,100",
        "--step-interval",
        "0.1s",
        user=starter,
        server=auth_server,
    )
    assert started.returncode == 0, started.stderr
    state = "running"
    for _ in range(50):  # the step interval must pass before the final step
        time.sleep(0.2)
        trk("rollout", "step", name, user=starter, server=auth_server)
        state = json.loads(
            trk("rollout", "status", name, "--json", user=starter, server=auth_server).stdout
        )["state"]
        if state != "running":
            break
    assert state == "awaiting_approval"
    assert client.get_model_version_by_alias(name, "champion").version == "1"

    own = trk("rollout", "approve", name, user=starter, server=auth_server)
    assert own.returncode != 0 and "cannot approve" in own.stderr
    assert client.get_model_version_by_alias(name, "champion").version == "1"

    done = trk("rollout", "approve", name, user=second, server=auth_server)
    assert done.returncode == 0, done.stderr
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    status = json.loads(
        trk("rollout", "status", name, "--json", user=second, server=auth_server).stdout
    )
    assert status["state"] == "promoted"
    shown = trk("models", "describe", name, user=second, server=auth_server).stdout
    assert f"version 2 by {starter[0]}, approved by {second[0]}" in shown


@pytest.mark.parametrize("body", ["", "null", "[1]", "{bad"])
def test_an_empty_or_bad_body_is_a_400_not_a_hang(auth_server: ServerProcess, body: str) -> None:
    answer = httpx.post(
        f"{auth_server.url}/api/2.0/mlflow/users/create",
        content=body,
        headers={"Content-Type": "application/json"},
        auth=ADMIN,
        timeout=30,
    )
    assert answer.status_code == 400


def test_artifact_paths_follow_their_experiment(auth_server: ServerProcess, as_user) -> None:  # noqa: ANN001
    owner, outsider = new_user(auth_server), new_user(auth_server)
    exp = as_user(owner).create_experiment(f"art-{uuid.uuid4().hex[:6]}")
    grant(auth_server, owner, "experiment", exp, outsider[0], "NO_PERMISSIONS")
    base = f"{auth_server.url}/api/2.0/mlflow-artifacts"
    listing = httpx.get(f"{base}/artifacts", params={"path": f"{exp}/x"}, auth=outsider)
    assert listing.status_code == 403
    put = httpx.put(f"{base}/artifacts/{exp}/f.txt", content=b"no", auth=outsider)
    assert put.status_code == 403
    mpu = httpx.post(f"{base}/mpu/create/{exp}/f.txt", json={}, auth=outsider)  # no such route
    assert mpu.status_code == 403
    assert (
        httpx.get(f"{base}/artifacts", params={"path": f"{exp}/x"}, auth=owner).status_code != 403
    )


def test_trk_client_signs_in_from_the_environment(
    auth_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trk.exceptions import Unauthenticated
    from trk.store.rest import RestStore
    from trk.tracking.client import Client

    stores: list[RestStore] = []

    def fresh(url: str) -> Client:  # Client(url) keeps one store per URI, built once
        stores.append(RestStore(url))
        return Client.for_store(stores[-1])

    user = new_user(auth_server)
    for name in ("TRK_TRACKING_TOKEN", "MLFLOW_TRACKING_TOKEN", "TRK_TRACKING_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    with pytest.raises(Unauthenticated):
        fresh(auth_server.url).search_experiments()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", user[1])
    exp = fresh(auth_server.url).create_experiment(f"client-{uuid.uuid4().hex[:6]}")
    monkeypatch.setenv("TRK_TRACKING_USERNAME", user[0])
    monkeypatch.setenv("TRK_TRACKING_PASSWORD", "wrong")  # TRK_ wins over MLFLOW_
    with pytest.raises(Unauthenticated):
        fresh(auth_server.url).get_experiment(exp)
    for store in stores:
        store.transport.close()


def test_graphql_fields_are_checked_like_their_rest_rows(
    auth_server: ServerProcess, as_user
) -> None:  # noqa: ANN001
    owner, outsider = new_user(auth_server), new_user(auth_server)
    exp = as_user(owner).create_experiment(f"gql-{uuid.uuid4().hex[:6]}")
    grant(auth_server, owner, "experiment", exp, outsider[0], "NO_PERMISSIONS")
    query = {
        "query": "query($id: String!) { mlflowGetExperiment(input: {experimentId: $id}) "
        "{ experiment { experimentId } } }",
        "variables": {"id": exp},
    }
    url = f"{auth_server.url}/graphql"
    mine = httpx.post(url, json=query, auth=owner).json()
    assert mine["data"]["mlflowGetExperiment"]["experiment"]["experimentId"] == exp
    theirs = httpx.post(url, json=query, auth=outsider).json()
    assert theirs["data"]["mlflowGetExperiment"] is None
    assert "Permission denied" in theirs["errors"][0]
    assert httpx.post(url, json=query).status_code == 401


def test_the_signup_form_needs_its_csrf_token(auth_server: ServerProcess) -> None:
    import re

    url = f"{auth_server.url}/api/2.0/mlflow/users/create-ui"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    name = f"ui{uuid.uuid4().hex[:6]}"
    bare = httpx.post(url, content=f"username={name}&password=pw", headers=form, auth=ADMIN)
    assert bare.status_code == 400 and "CSRF token is missing" in bare.text
    with httpx.Client(auth=ADMIN) as session:
        page = session.get(f"{auth_server.url}/signup")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        forged = session.post(
            url, content=f"username={name}&password=pw&csrf_token=x", headers=form
        )
        assert forged.status_code == 400
        done = session.post(
            url, content=f"username={name}&password=pw&csrf_token={token}", headers=form
        )
        assert f"Successfully signed up user: {name}" in done.text
    user = new_user(auth_server)
    assert httpx.get(f"{auth_server.url}/signup", auth=user).status_code == 403
