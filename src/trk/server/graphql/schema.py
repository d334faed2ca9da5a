"""The GraphQL schema `mlflow server` serves at /graphql, answered by trk's REST handlers.

Each root field is one REST endpoint's `Api` row: its input is checked against the row's
fields exactly as the REST request would be, and the row's handler answers it, so GraphQL
and REST cannot disagree on validation, permissions of the store, or the answer's shape.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

import graphene
from graphql import (
    DirectiveLocation,
    GraphQLArgument,
    GraphQLDirective,
    GraphQLNonNull,
    GraphQLString,
    specified_directives,
)

from trk.server import experiments, inputs, metrics, registry, run_artifacts, runs
from trk.server.endpoint import Api, ServerContext
from trk.server.graphql import types as t
from trk.server.params import check_fields


def _row(apis: Sequence[Api], path: str) -> Api:
    return next(api for api in apis if api.path == path)


GET_EXPERIMENT = _row(experiments.APIS, "experiments/get")
GET_RUN = _row(runs.APIS, "runs/get")
SEARCH_RUNS = _row(runs.APIS, "runs/search")
LIST_ARTIFACTS = _row(run_artifacts.APIS, "artifacts/list")
BULK_INTERVAL = _row(metrics.APIS, "metrics/get-history-bulk-interval")
SEARCH_VERSIONS = _row(registry.APIS, "model-versions/search")
SEARCH_DATASETS = _row(inputs.APIS, "experiments/search-datasets")


def _plain(value: Any) -> Any:
    """A GraphQL input value as the REST JSON would carry it (enums by name)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def call(api: Api, info: Any, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """`api`'s handler on `raw`, checked as the REST endpoint checks its request."""
    ctx: ServerContext = info.context
    params = check_fields(_plain(raw or {}), api.fields)
    authorized = ctx.extras.get("authorized_call")  # basic-auth: the row's permission first
    if authorized is not None:
        answer: dict[str, Any] = authorized(api, params, lambda c: api.handler(ctx, c) or {})
        return answer
    return api.handler(ctx, params) or {}


class MlflowRunExtension(graphene.ObjectType):
    """A run, and (MLflow's extension) its experiment and the versions registered from it."""

    info = graphene.Field(t.MlflowRunInfo)
    data = graphene.Field(t.MlflowRunData)
    inputs = graphene.Field(t.MlflowRunInputs)
    outputs = graphene.Field(t.MlflowRunOutputs)
    experiment = graphene.Field(t.MlflowExperiment)
    model_versions = graphene.List(graphene.NonNull(t.MlflowModelVersion))

    @staticmethod
    def resolve_experiment(root: dict[str, Any], info: Any) -> Any:
        experiment_id = root["info"]["experiment_id"]
        return call(GET_EXPERIMENT, info, {"experiment_id": experiment_id}).get("experiment")

    @staticmethod
    def resolve_model_versions(root: dict[str, Any], info: Any) -> Any:
        # Run ids are hex (checked where runs are created), so the quoting below is safe.
        run_filter = f"run_id = '{root['info']['run_id']}'"
        return call(SEARCH_VERSIONS, info, {"filter": run_filter}).get("model_versions", [])


class MlflowGetRunResponse(graphene.ObjectType):
    run = graphene.Field(MlflowRunExtension)
    apiError = graphene.Field(t.ApiError)


class MlflowSearchRunsResponse(graphene.ObjectType):
    runs = graphene.List(graphene.NonNull(MlflowRunExtension))
    next_page_token = graphene.String()
    apiError = graphene.Field(t.ApiError)


class Test(graphene.ObjectType):
    output = graphene.String(description="Echoes the input string")


class TestMutation(graphene.ObjectType):
    output = graphene.String(description="Echoes the input string")


def _field(response: type, input_type: type, api: Api) -> graphene.Field:
    """A root field answered by `api`'s handler."""

    def resolve(_root: Any, info: Any, input: Any) -> dict[str, Any]:  # noqa: A002 (MLflow's)
        return call(api, info, input)

    return graphene.Field(response, input=input_type(), resolver=resolve)


def _echo(_root: Any, _info: Any, input_string: str | None = None) -> dict[str, Any]:
    return {"output": input_string}


class Query(graphene.ObjectType):
    mlflow_get_experiment = _field(
        t.MlflowGetExperimentResponse, t.MlflowGetExperimentInput, GET_EXPERIMENT
    )
    mlflow_get_metric_history_bulk_interval = _field(
        t.MlflowGetMetricHistoryBulkIntervalResponse,
        t.MlflowGetMetricHistoryBulkIntervalInput,
        BULK_INTERVAL,
    )
    mlflow_get_run = _field(MlflowGetRunResponse, t.MlflowGetRunInput, GET_RUN)
    mlflow_list_artifacts = _field(
        t.MlflowListArtifactsResponse, t.MlflowListArtifactsInput, LIST_ARTIFACTS
    )
    mlflow_search_model_versions = _field(
        t.MlflowSearchModelVersionsResponse, t.MlflowSearchModelVersionsInput, SEARCH_VERSIONS
    )
    mlflow_search_runs = _field(MlflowSearchRunsResponse, t.MlflowSearchRunsInput, SEARCH_RUNS)
    test = graphene.Field(Test, input_string=graphene.String(), resolver=_echo)


class Mutation(graphene.ObjectType):
    """MLflow serves its two searches as mutations too (the web UI posts them so)."""

    mlflow_search_datasets = _field(
        t.MlflowSearchDatasetsResponse, t.MlflowSearchDatasetsInput, SEARCH_DATASETS
    )
    mlflow_search_runs = _field(MlflowSearchRunsResponse, t.MlflowSearchRunsInput, SEARCH_RUNS)
    testMutation = graphene.Field(TestMutation, input_string=graphene.String(), resolver=_echo)


# MLflow's `@component(name: ...)` on operations (Databricks tags its queries with it).
COMPONENT = GraphQLDirective(
    name="component",
    locations=[DirectiveLocation.QUERY, DirectiveLocation.MUTATION],
    args={"name": GraphQLArgument(GraphQLNonNull(GraphQLString))},
)

SCHEMA = graphene.Schema(
    query=Query, mutation=Mutation, directives=[*specified_directives, COMPONENT]
)
