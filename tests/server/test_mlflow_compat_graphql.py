"""Issue 30: MLflow's GraphQL API at /graphql, as `mlflow server` answers it (data written with
the real `mlflow` client, queried over HTTP from a real `trk server`)."""

from __future__ import annotations

import math

import pytest
import requests
from mlflow.entities import Dataset, DatasetInput, InputTag

JSON = {"content-type": "application/json; charset=utf-8"}


@pytest.fixture(scope="module")
def server(module_server):
    """One server for the module: each test uses names of its own."""
    return module_server


@pytest.fixture(scope="module")
def mlflow_client(module_server):
    from mlflow import MlflowClient

    return MlflowClient(module_server.url, module_server.url)


def graphql(server, query: str, **extra) -> dict:
    response = requests.post(f"{server.url}/graphql", json={"query": query, **extra}, headers=JSON)
    assert response.status_code == 200, response.text
    return response.json()


def test_get_run_with_its_experiment_versions_and_metrics(server, mlflow_client):
    exp_id = mlflow_client.create_experiment("gql")
    run = mlflow_client.create_run(exp_id)
    run_id = run.info.run_id
    mlflow_client.log_metric(run_id, "normal", 123, timestamp=1, step=1)
    mlflow_client.log_metric(run_id, "nan", math.nan, timestamp=2, step=2)
    mlflow_client.log_metric(run_id, "inf", math.inf, timestamp=3, step=3)
    mlflow_client.log_param(run_id, "p", "v")
    mlflow_client.create_registered_model("gql-model")
    mlflow_client.create_model_version("gql-model", f"runs:/{run_id}/model", run_id)
    query = f"""query q @component(name: "Test") {{
        mlflowGetRun(input: {{runId: "{run_id}"}}) {{
            run {{
                info {{ status runId experimentId startTime lifecycleStage }}
                data {{ metrics {{ key value timestamp step }} params {{ key value }} }}
                experiment {{ name experimentId }}
                modelVersions {{ name version currentStage }}
            }}
            apiError {{ code }}
        }}
    }}"""
    out = graphql(server, query, operationName="q")
    assert out["errors"] is None
    got = out["data"]["mlflowGetRun"]["run"]
    assert got["info"]["status"] == "RUNNING"
    assert got["info"]["runId"] == run_id
    assert got["info"]["startTime"] == str(run.info.start_time)  # a long, as a string
    assert got["experiment"] == {"name": "gql", "experimentId": exp_id}
    assert got["modelVersions"] == [{"name": "gql-model", "version": "1", "currentStage": "None"}]
    metrics = {m["key"]: m for m in got["data"]["metrics"]}
    assert metrics["normal"] == {"key": "normal", "value": 123, "timestamp": "1", "step": "1"}
    # GraphQL's Float has no NaN or infinity: null, as MLflow answers NaN.
    assert metrics["nan"]["value"] is None and metrics["nan"]["step"] == "2"
    assert metrics["inf"]["value"] is None
    assert got["data"]["params"] == [{"key": "p", "value": "v"}]
    assert out["data"]["mlflowGetRun"]["apiError"] is None


def test_get_experiment_and_an_unknown_one(server, mlflow_client):
    exp_id = mlflow_client.create_experiment("GraphqlTest")
    query = 'query {mlflowGetExperiment(input: {experimentId: "%s"}) { experiment { name } }}'
    out = graphql(server, query % exp_id)
    assert out["data"]["mlflowGetExperiment"]["experiment"]["name"] == "GraphqlTest"
    out = graphql(server, query % "987654")
    assert out["data"] == {"mlflowGetExperiment": None}
    assert "987654" in out["errors"][0]


def test_search_runs_as_query_and_mutation(server, mlflow_client):
    exp_id = mlflow_client.create_experiment("gql-search")
    first = mlflow_client.create_run(exp_id).info.run_id
    second = mlflow_client.create_run(exp_id).info.run_id
    mlflow_client.delete_run(first)
    for kind in ("query", "mutation"):
        query = f"""{kind} {{ mlflowSearchRuns(input: {{experimentIds: ["{exp_id}"],
            runViewType: ALL}}) {{ runs {{ info {{ runId lifecycleStage }} }} }} }}"""
        runs = graphql(server, query)["data"]["mlflowSearchRuns"]["runs"]
        assert [r["info"]["runId"] for r in runs] == [second, first]  # newest first
    active = graphql(
        server,
        f'query {{ mlflowSearchRuns(input: {{experimentIds: ["{exp_id}"]}}) '
        "{ runs { info { runId } } } }",
    )
    assert active["data"]["mlflowSearchRuns"]["runs"] == [{"info": {"runId": second}}]


def test_list_artifacts_with_directories(server, mlflow_client, tmp_path):
    run_id = mlflow_client.create_run(mlflow_client.create_experiment("gql-art")).info.run_id
    path = tmp_path / "test.txt"
    path.write_text("hello world")
    mlflow_client.log_artifact(run_id, str(path))
    mlflow_client.log_artifact(run_id, str(path), "testDir")
    query = """query {{ files: mlflowListArtifacts(input: {{runId: "{}"{}}}) {{
        files {{ path isDir fileSize }} }} }}"""
    out = graphql(server, query.format(run_id, ""))
    assert out["data"]["files"]["files"] == [
        {"path": "test.txt", "isDir": False, "fileSize": "11"},
        {"path": "testDir", "isDir": True, "fileSize": "0"},
    ]
    out = graphql(server, query.format(run_id, ', path: "testDir"'))
    assert out["data"]["files"]["files"] == [
        {"path": "testDir/test.txt", "isDir": False, "fileSize": "11"}
    ]
    # The REST endpoint's path check holds here too.
    out = graphql(server, query.format(run_id, ', path: "../../etc"'))
    assert out["data"]["files"] is None and out["errors"] == ["Invalid path"]


def test_metric_history_bulk_interval(server, mlflow_client):
    run_id = mlflow_client.create_run(mlflow_client.create_experiment("gql-hist")).info.run_id
    for i in range(10):
        mlflow_client.log_metric(run_id, "m", i, step=i)
    query = f"""query {{ mlflowGetMetricHistoryBulkInterval(input: {{
        runIds: ["{run_id}"], metricKey: "m", maxResults: 100}}) {{
        metrics {{ key value step runId }} }} }}"""
    metrics = graphql(server, query)["data"]["mlflowGetMetricHistoryBulkInterval"]["metrics"]
    assert metrics == [{"key": "m", "value": i, "step": str(i), "runId": run_id} for i in range(10)]


def test_search_datasets(server, mlflow_client):
    exp_id = mlflow_client.create_experiment("gql-data")
    run_id = mlflow_client.create_run(exp_id).info.run_id
    plain = Dataset(name="d1", digest="12345", source_type="script", source="test")
    training = Dataset(name="d2", digest="12346", source_type="script", source="test")
    context = [InputTag(key="mlflow.data.context", value="training")]
    mlflow_client.log_inputs(run_id, [DatasetInput(plain, []), DatasetInput(training, context)])
    query = f"""mutation {{ mlflowSearchDatasets(input: {{experimentIds: ["{exp_id}"]}}) {{
        datasetSummaries {{ experimentId name digest context }} }} }}"""
    found = graphql(server, query)["data"]["mlflowSearchDatasets"]["datasetSummaries"]
    assert sorted(found, key=lambda d: d["digest"]) == [
        {"experimentId": exp_id, "name": "d1", "digest": "12345", "context": ""},
        {"experimentId": exp_id, "name": "d2", "digest": "12346", "context": "training"},
    ]


def test_search_model_versions(server, mlflow_client):
    mlflow_client.create_registered_model("gql-reg")
    mlflow_client.create_model_version("gql-reg", "runs:/0123456789abcdef/model", "x")
    query = """query { mlflowSearchModelVersions(input: {filter: "name = 'gql-reg'"}) {
        modelVersions { name version status } } }"""
    out = graphql(server, query)["data"]["mlflowSearchModelVersions"]["modelVersions"]
    assert out == [{"name": "gql-reg", "version": "1", "status": "READY"}]


def test_variables_and_the_echo_fields(server):
    out = graphql(
        server,
        "query t($s: String) { test(inputString: $s) { output } }",
        variables={"s": "abc"},
        operationName="t",
    )
    assert out == {"data": {"test": {"output": "abc"}}, "errors": None}
    out = graphql(server, 'mutation { testMutation(inputString: "x") { output } }')
    assert out["data"] == {"testMutation": {"output": "x"}}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "query {"
            + " ".join(f'k{i}: test(inputString: "a") {{ output }}' for i in range(12))
            + "}",
            "GraphQL queries should have at most 10 root fields, got 12 root fields.",
        ),
        (
            'query { mlflowGetExperiment(input: {experimentId: "1"}) {'
            + " ".join(f"e{i}: experiment {{ name }}" for i in range(12))
            + "}}",
            "GraphQL queries should have at most 10 aliases, got 12 aliases.",
        ),
        (
            'query { mlflowGetExperiment(input: {experimentId: "1"}) { experiment { '
            + "name { " * 12
            + "name"
            + " }" * 12
            + " } } }",
            "Query exceeds maximum depth of 10",
        ),
        (
            'query { mlflowGetExperiment(input: {experimentId: "1"}) { experiment { '
            + " ".join(f"f{i} {{ name }}" for i in range(1002))
            + " } } }",
            "Query exceeds maximum total selections of 1000",
        ),
        (
            # A fragment that spreads itself is counted once per path, never looped on.
            "query { ...A } fragment A on Query { test { ...A output } }",
            "Cannot spread fragment 'A' within itself.",
        ),
    ],
    ids=["root-fields", "aliases", "depth", "selections", "fragment-cycle"],
)
def test_query_size_bounds(server, query, message):
    out = graphql(server, query)
    assert out["data"] is None
    assert out["errors"][0] == message


def test_bad_queries_are_graphql_errors(server):
    out = graphql(server, "query { nope }")
    assert out["data"] is None and "Cannot query field 'nope'" in out["errors"][0]
    out = graphql(server, "query {")
    assert out["data"] is None and out["errors"][0].startswith("Syntax Error")
    out = graphql(
        server, "query { mlflowSearchRuns(input: {maxResults: -1}) { runs { info { runId } } } }"
    )
    assert out["data"] == {"mlflowSearchRuns": None}
    assert out["errors"]


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ("{not json", JSON, 400),
        ('{"variables": {}}', JSON, 400),
        ('{"query": 5}', JSON, 400),
        ('["query"]', JSON, 400),
        ('{"query": "{ test { output } }", "variables": [1]}', JSON, 400),
        ('{"query": "{ test { output } }"}', {"content-type": "text/plain"}, 400),
    ],
    ids=["malformed", "no-query", "query-not-string", "not-object", "variables", "form-type"],
)
def test_bad_requests_are_4xx_with_mlflow_error_json(server, body, headers, status):
    response = requests.post(f"{server.url}/graphql", data=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")


def test_get_with_a_query_string(server, mlflow_client):
    exp_id = mlflow_client.create_experiment("gql-get")
    query = f'{{ mlflowGetExperiment(input: {{experimentId: "{exp_id}"}}) {{ experiment {{ name }} }} }}'
    response = requests.get(f"{server.url}/graphql", params={"query": query})
    assert response.status_code == 200
    assert response.json()["data"]["mlflowGetExperiment"]["experiment"]["name"] == "gql-get"


def test_without_graphene_graphql_answers_501_naming_the_extra(tmp_path, monkeypatch):
    import asyncio
    import importlib.util

    import httpx

    from trk.server.app import create_app
    from trk.store import get_store

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "graphene" else real(name, *a)
    )
    store = get_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    app = create_app(store, str(tmp_path / "art"), allowed_hosts=("testserver",))

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post("/graphql", json={"query": "{ test { output } }"})

    response = asyncio.run(ask())
    assert response.status_code == 501
    assert response.json()["error_code"] == "NOT_IMPLEMENTED"
    assert "trk[server]" in response.json()["message"]
