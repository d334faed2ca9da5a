"""k8s/: every rendered object against the Kubernetes schemas, and what serving relies on."""

from __future__ import annotations

import _kustomize
import kubernetes_validate
import pytest

K8S_VERSION = "1.30.0"  # the oldest Kubernetes these manifests promise to apply on
CRDS = {"monitoring.coreos.com/v1"}  # no schema in kubernetes-validate: checked by hand below


@pytest.mark.parametrize("overlay", ["base", "shadow"])
def test_every_object_validates(rendered, overlay):
    checked = 0
    for obj in rendered[overlay]:
        if obj["apiVersion"] in CRDS:
            continue
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        checked += 1
    kinds = {o["kind"] for o in rendered[overlay]}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert {"ConfigMap", "ServiceMonitor"} <= kinds
    assert checked == len(rendered[overlay]) - 1


def test_validation_is_live(rendered):
    """A typo in a field name is caught (strict mode), so the test above can fail."""
    deploy = _kustomize.find(rendered["base"], "Deployment", "trk-serve")
    broken = _kustomize.merge(deploy, {"spec": {"replica": 3}})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_service_monitor_structure(rendered):
    objects = rendered["base"]
    monitor = _kustomize.find(objects, "ServiceMonitor", "trk-serve")
    service = _kustomize.find(objects, "Service", "trk-serve")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}


def serve_container(objects):
    deploy = _kustomize.find(objects, "Deployment", "trk-serve")
    return deploy, deploy["spec"]["template"]["spec"]["containers"][0]


def test_probes_and_scrape_annotations(rendered):
    deploy, container = serve_container(rendered["base"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/ping"
    assert container["ports"][0]["containerPort"] == 8080
    notes = deploy["spec"]["template"]["metadata"]["annotations"]
    assert notes == {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"} | {
        "prometheus.io/path": "/metrics"
    }
    assert container["resources"]["requests"] and container["resources"]["limits"]


def test_grace_period_covers_prestop_and_drain(rendered):
    """SIGTERM comes after preStop; the drain (TRK_GRACEFUL_TIMEOUT_S) must end before KILL."""
    objects = rendered["base"]
    deploy, container = serve_container(objects)
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    routing = _kustomize.find(objects, "ConfigMap", "trk-serve-routing")["data"]
    drain = float(routing["TRK_GRACEFUL_TIMEOUT_S"])
    grace = deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert sleep + drain < grace <= sleep + drain + 15


def test_autoscaling_and_disruption_budget(rendered):
    objects = rendered["base"]
    deploy, _ = serve_container(objects)
    hpa = _kustomize.find(objects, "HorizontalPodAutoscaler", "trk-serve")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment"} | {
        "name": "trk-serve"
    }
    assert hpa["spec"]["minReplicas"] <= deploy["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    pdb = _kustomize.find(objects, "PodDisruptionBudget", "trk-serve")
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]


def test_tokens_and_store_come_from_secrets(rendered):
    objects = rendered["base"]
    _, serve = serve_container(objects)
    server = _kustomize.find(objects, "Deployment", "trk-server")
    (srv,) = server["spec"]["template"]["spec"]["containers"]
    serve_env = {e["name"]: e for e in serve["env"]}
    server_env = {e["name"]: e for e in srv["env"]}
    ref = serve_env["TRK_TRACKING_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert server_env["TRK_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == ref
    assert ref == {"name": "trk-auth", "key": "token"}
    assert srv["envFrom"][0]["secretRef"]["name"] == "trk-server-store"
    assert serve["envFrom"][0]["configMapRef"]["name"] == "trk-serve-routing"


def test_no_secret_or_placeholder_is_shipped(rendered, root):
    """Issue 14: a shipped `change-me` token is a token everyone knows; trk server refuses
    it, and the manifests leave every Secret to the operator."""
    for objects in rendered.values():
        assert not [o for o in objects if o["kind"] == "Secret"]
    files = [
        *sorted((root / "k8s").rglob("*.yaml")),
        root / "Dockerfile.server",
        root / "Dockerfile.serve",
    ]
    for path in files:
        assert "change-me" not in path.read_text().lower(), path


def test_server_answers_its_service_name(rendered):
    from trk.server.hosts import host_allowed

    server = _kustomize.find(rendered["base"], "Deployment", "trk-server")
    (srv,) = server["spec"]["template"]["spec"]["containers"]
    hosts = {e["name"]: e.get("value") for e in srv["env"]}["TRK_ALLOWED_HOSTS"].split(",")
    for host in ("trk-server:5000", "trk-server.ml.svc.cluster.local:5000", "localhost:5000"):
        assert host_allowed(host, hosts), host
    assert not host_allowed("trk-server.evil.example", hosts)


def test_shadow_overlay_adds_a_challenger(rendered):
    base = _kustomize.find(rendered["base"], "ConfigMap", "trk-serve-routing")["data"]
    shadow = _kustomize.find(rendered["shadow"], "ConfigMap", "trk-serve-routing")["data"]
    assert base["TRK_MODE"] == "single" and "TRK_CHALLENGER_URI" not in base
    assert shadow["TRK_MODE"] == "shadow"
    assert shadow["TRK_CHALLENGER_URI"] == "models:/iris@challenger"
    assert shadow["TRK_MODEL_URI"] == base["TRK_MODEL_URI"]  # the rest of the base is kept
    _, container = serve_container(rendered["shadow"])
    assert container["resources"]["requests"]["cpu"] == "1"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"


def test_images_and_labels_applied(rendered):
    for objects in rendered.values():
        for obj in objects:
            assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "trk"
        _, container = serve_container(objects)
        assert container["image"] == "registry.example.com/trk/trk-serve:0.1.0"


def test_one_rollout_controller_against_the_tracking_server(rendered):
    objects = rendered["base"]
    deploy = _kustomize.find(objects, "Deployment", "trk-rollout-controller")
    assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["strategy"]["type"] == "Recreate"
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    assert container["command"][:3] == ["trk", "rollout", "controller"]
    assert container["image"] == "registry.example.com/trk/trk-server:0.1.0"
    env = {e["name"]: e for e in container["env"]}
    server = _kustomize.find(objects, "Service", "trk-server")
    port = server["spec"]["ports"][0]["port"]
    assert env["TRK_TRACKING_URI"]["value"] == f"http://{server['metadata']['name']}:{port}"
    (srv,) = _kustomize.find(objects, "Deployment", "trk-server")["spec"]["template"]["spec"][
        "containers"
    ]
    auth = {e["name"]: e for e in srv["env"]}["TRK_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert env["TRK_TRACKING_TOKEN"]["valueFrom"]["secretKeyRef"] == auth


def test_basic_auth_overlay_gives_each_component_its_own_secret(rendered):
    """Issue 26: users sign in to the server (no shared token); trk-serve and the rollout
    controller each carry their own user's token, from their own Secret."""
    objects = rendered["basic-auth"]
    server = _kustomize.find(objects, "Deployment", "trk-server")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in server["containers"][0]["env"]}
    assert "TRK_AUTH_TOKEN" not in env
    assert env["TRK_APP_NAME"]["value"] == "basic-auth"
    assert env["TRK_PROTECTED_ALIASES"]["value"] == "champion"
    assert (
        env["MLFLOW_AUTH_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "trk-server-admin"
    )
    ini = _kustomize.find(objects, "ConfigMap", "trk-server-auth")["data"]["basic_auth.ini"]
    assert "admin_password" not in ini
    secrets = set()
    for name in ("trk-serve", "trk-rollout-controller"):
        spec = _kustomize.find(objects, "Deployment", name)["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        token = {e["name"]: e for e in container["env"]}["TRK_TRACKING_TOKEN"]
        secrets.add(token["valueFrom"]["secretKeyRef"]["name"])
    assert secrets == {"trk-serve-token", "trk-rollout-token"}
