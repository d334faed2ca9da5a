"""The GraphQL schema `mlflow server` serves at /graphql, answered by trk's REST handlers.

Each root field is one REST endpoint (a route-table row and its handler): its input is checked against the row's
fields exactly as the REST request would be, and the row's handler answers it, so GraphQL
and REST cannot disagree on validation, permissions of the store, or the answer's shape.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
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

from trk.contracts.api import experiments as experiments_api
from trk.contracts.api import registry as registry_api
from trk.contracts.api import runs as runs_api
from trk.contracts.api.fields import check_fields
from trk.server import experiments, inputs, metrics, registry, run_artifacts, runs
from trk.server.endpoint import Endpoint, ServerContext, bound
from trk.server.graphql import types as t

GET_EXPERIMENT = bound(experiments.ENDPOINTS, experiments_api.GET)
GET_RUN = bound(runs.ENDPOINTS, runs_api.GET)
SEARCH_RUNS = bound(runs.ENDPOINTS, runs_api.SEARCH)
LIST_ARTIFACTS = bound(run_artifacts.ENDPOINTS, runs_api.LIST_ARTIFACTS)
BULK_INTERVAL = bound(metrics.ENDPOINTS, runs_api.METRIC_HISTORY_BULK_INTERVAL)
SEARCH_VERSIONS = bound(registry.ENDPOINTS, registry_api.SEARCH_VERSIONS)
SEARCH_DATASETS = bound(inputs.ENDPOINTS, experiments_api.SEARCH_DATASETS)


def _plain(value: Any) -> Any:
    """A GraphQL input value as the REST JSON would carry it (enums by name)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def call(endpoint: Endpoint, info: Any, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """`endpoint`'s handler on `raw`, checked as the REST endpoint checks its request."""
    ctx: ServerContext = info.context
    api, handler = endpoint.api, endpoint.handler
    params = check_fields(_plain(raw or {}), api.fields)
    authorized = ctx.extras.get("authorized_call")  # basic-auth: the row's permission first
    if authorized is not None:
        answer: dict[str, Any] = authorized(api, params, lambda c: handler(ctx, c) or {})
        return answer
    return handler(ctx, params) or {}


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


def _field(response: type, input_type: type, endpoint: Endpoint) -> graphene.Field:
    """A root field answered by `endpoint`'s handler."""

    def resolve(_root: Any, info: Any, input: Any) -> dict[str, Any]:  # noqa: A002 (MLflow's)
        return call(endpoint, info, input)

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
