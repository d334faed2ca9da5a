"""k8s/kserve: a KServe ServingRuntime and InferenceService for trk-serve over V2.

KServe's CRDs have no schema in kubernetes-validate: the structure is checked by hand, the
container against the Kubernetes Container schema, and every variable against what
trk-serve reads (and parses).
"""

from __future__ import annotations

import _kustomize
import kubernetes_validate
import pytest
from test_env_vars import command, envvars_of, readable

import trk.settings
from trk.uri import parse_model_uri

K8S_VERSION = "1.30.0"


@pytest.fixture(scope="module")
def kserve(root) -> list[dict]:
    return _kustomize.render(root / "k8s" / "kserve")


def _runtime_and_service(objects: list[dict]) -> tuple[dict, dict]:
    runtime = _kustomize.find(objects, "ServingRuntime", "trk-serve")
    service = _kustomize.find(objects, "InferenceService", "iris")
    return runtime, service


def test_inference_service_runs_on_the_trk_runtime_over_v2(kserve):
    runtime, service = _runtime_and_service(kserve)
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    model = service["spec"]["predictor"]["model"]
    assert model["protocolVersion"] == "v2" and "v2" in runtime["spec"]["protocolVersions"]
    assert model["runtime"] == runtime["metadata"]["name"]
    formats = {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    assert model["modelFormat"]["name"] in formats


def test_runtime_container_is_the_trk_serve_image_with_v2_probes(kserve, rendered):
    runtime, _ = _runtime_and_service(kserve)
    (container,) = runtime["spec"]["containers"]
    # KServe injects its own fields; the container itself must be a valid Container.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"containers": [container]},
    }
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    deploy = _kustomize.find(rendered["base"], "Deployment", "trk-serve")
    base_image = deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    assert container["image"] == base_image  # the same trk-serve image as k8s/base
    assert container["ports"][0]["containerPort"] == 8080
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"


def _env(kserve: list[dict]) -> dict[str, str | None]:
    runtime, service = _runtime_and_service(kserve)
    items = runtime["spec"]["containers"][0]["env"] + service["spec"]["predictor"]["model"]["env"]
    return {item["name"]: item.get("value") for item in items}


def test_model_name_in_v2_paths_is_the_inference_service_name(kserve):
    """Clients call /v2/models/<InferenceService name>/infer; trk answers the registered name."""
    _, service = _runtime_and_service(kserve)
    assert parse_model_uri(_env(kserve)["TRK_MODEL_URI"]).name == service["metadata"]["name"]


def test_every_variable_is_read_and_parses(kserve, monkeypatch):
    env = _env(kserve)
    assert not sorted(set(env) - readable("serve"))
    for name in list(trk.settings.env_snapshot()):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, "token" if value is None else value)
    cmd = command("serve")
    ctx = cmd.make_context("trk-serve", [])
    for name, value in env.items():
        param = next((p for p in cmd.params if name in envvars_of(p)), None)
        if param is not None and value is not None:
            assert ctx.params[param.name] is not None, name
