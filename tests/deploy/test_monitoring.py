"""k8s/monitoring: the alert rules pass `promtool check rules` and their unit tests
(`promtool test rules`), every alert has a test that fires it, every Grafana query is valid
PromQL to promtool, and every series the rules and the dashboard name is one trk exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "k8s" / "monitoring"
RULES = MONITORING / "trk-alerts.rules.yaml"
RULE_TESTS = MONITORING / "trk-alerts.test.yaml"
DASHBOARD = MONITORING / "trk-dashboard.json"
# Series the rules watch before the code that exports them lands (drop an entry once its
# series is exported: the test then checks its name like any other).
PENDING: dict[str, str] = {}
# Grafana's variables, as a value promtool parses: intervals, regexes for the label filters.
GRAFANA_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
SERIES = re.compile(r"\btrk_[a-z0-9_]+\b")
SUFFIXES = ("_bucket", "_count", "_sum")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool is required in CI (Debian package prometheus, scripts/dev)")
        pytest.skip("no promtool here (apt-get install prometheus)")
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, cwd=MONITORING
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def alerts() -> dict[str, str]:
    return {r["alert"]: r["expr"] for g in rule_groups() for r in g["rules"] if "alert" in r}


def dashboard_queries() -> list[str]:
    """Every panel target's expression."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", ())]


def as_promql(expr: str) -> str:
    """A Grafana query with its variables replaced the way Grafana fills them in."""

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return GRAFANA_VARIABLES.get(name, ".*")

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def defined_series() -> set[str]:
    """Every `trk_*` series name written as a string in trk's source."""
    names: set[str] = set()
    for path in (ROOT / "src" / "trk").rglob("*.py"):
        names |= set(re.findall(r"[\"'](trk_[a-z0-9_]+)[\"']", path.read_text()))
    return names


def test_rules_pass_promtool_check():
    out = run_promtool("check", "rules", str(RULES))
    assert f"SUCCESS: {len(alerts())} rules found" in out.stdout


def test_rule_unit_tests_pass():
    run_promtool("test", "rules", str(RULE_TESTS))


def test_every_alert_has_a_test_that_fires_it():
    fired = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", ())
        if case.get("exp_alerts")
    }
    assert fired == set(alerts())


def test_every_dashboard_query_passes_promtool(tmp_path):
    queries = dashboard_queries()
    assert len(queries) >= 20
    rules = [
        {"record": f"dashboard:query_{i}", "expr": as_promql(q)} for i, q in enumerate(queries)
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = run_promtool("check", "rules", str(path))
    assert f"SUCCESS: {len(queries)} rules found" in out.stdout


def test_dashboard_panels_use_the_datasource_variable():
    dash = json.loads(DASHBOARD.read_text())
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "model", "variant"} <= variables
    for panel in dash["panels"]:
        for target in panel.get("targets", ()):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_series_named_is_exported_by_trk():
    texts = [*alerts().values(), *dashboard_queries()]
    texts += [
        v["definition"]
        for v in json.loads(DASHBOARD.read_text())["templating"]["list"]
        if "definition" in v
    ]
    used = {name for text in texts for name in SERIES.findall(text)}
    defined = defined_series()

    def known(name: str) -> bool:
        base = next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), name)
        return name in defined or base in defined

    assert {n for n in used if not known(n)} <= set(PENDING)


def test_watched_series_cover_the_checklist():
    """The issue's list: error rate per variant, breaker open, shadow drops, prediction-log
    and capture drops, a rollback, the tracking server's 5xx and latency."""
    watched = " ".join(alerts().values())
    for name in (
        "trk_requests_total",
        "trk_circuit_breaker_opened_total",
        'trk_shadow_requests_total{outcome="dropped"}',
        "trk_prediction_log_dropped_total",
        "trk_capture_dropped_total",
        'trk_rollout_state{state="rolled_back"}',
        'trk_server_requests_total{status=~"5.."}',
        "trk_server_request_latency_seconds_bucket",
    ):
        assert name in watched, name


def test_kustomization_names_the_files_here():
    spec = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    named = list(spec["resources"])
    named += [f for gen in spec["configMapGenerator"] for f in gen["files"]]
    assert {RULES.name, DASHBOARD.name} <= set(named)
    for name in named:
        assert (MONITORING / name).is_file(), name
