"""`trk ab report|promote`, `trk models gate`, `trk runs compare` through the real CLI."""

from __future__ import annotations

import orjson
import pytest
from ab_helpers import simulate
from click.testing import CliRunner

from trk.cli import main
from trk.cli_common import EXIT_REJECTED

pytestmark = pytest.mark.unit


@pytest.fixture
def cli(client):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, [*args, "--tracking-uri", client.tracking_uri])

    return invoke


def register(client, name: str, versions: int = 2, **aliases: str) -> list[str]:
    """A registered model with `versions` versions, each from a run with metrics."""
    client.create_registered_model(name)
    exp = client.create_experiment(f"train-{name}")
    for i in range(versions):
        run = client.create_run(exp)
        client.log_metric(run.info.run_id, "accuracy", 0.85 + 0.05 * i)
        client.log_metric(run.info.run_id, "f1_macro", 0.80 + 0.05 * i)
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    for alias, version in aliases.items():
        client.set_registered_model_alias(name, alias, version)
    return [str(i + 1) for i in range(versions)]


def alias(client, name: str, which: str) -> str:
    return client.get_model_version_by_alias(name, which).version


def test_report_formats(cli, client, tmp_path):
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.95}, replicas=2)
    out = cli("ab", "report", "iris")
    assert out.exit_code == 0, out.output
    assert "verdict [+] on accuracy: challenger is better" in out.output
    out = cli("ab", "report", "iris", "--format", "json", "--metric", "error_rate")
    assert orjson.loads(out.output)["verdict"]["outcome"] == "no significant difference"
    page = tmp_path / "r.html"
    out = cli("ab", "report", "iris", "--format", "html", "--output", str(page))
    assert out.exit_code == 0 and page.read_text().startswith("<!DOCTYPE html>")


def test_verdict_flag_method_and_minimum_sample(cli, client):
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.95}, replicas=2)
    out = cli("ab", "report", "iris", "--verdict")
    assert out.exit_code == 0 and out.output.startswith("verdict [+] on accuracy")
    assert "(sequential, unpaired)" in out.output and "\n" == out.output[-1]
    out = cli("ab", "report", "iris", "--verdict", "--method", "fixed")
    assert out.exit_code == 0 and "(fixed, unpaired)" in out.output
    out = cli("ab", "report", "iris", "--verdict", "--min-sample", "5000")
    assert out.exit_code == EXIT_REJECTED and "no verdict before 5000" in out.output
    out = cli("ab", "report", "iris", "--verdict", "--metric", "error_rate")
    assert out.exit_code == EXIT_REJECTED and "no significant difference" in out.output
    data = orjson.loads(cli("ab", "report", "iris", "--format", "json", "--horizon", "800").output)
    assert (data["method"], data["horizon"], data["min_sample"]) == ("sequential", 800, 100)
    acc = next(c for c in data["comparisons"] if c["metric"] == "accuracy")
    assert acc["sequence"][-1]["n"] == 1200 and acc["needed"] > 0
    for bad, why in (
        (["--horizon", "0"], "--horizon"),
        (["--min-sample", "0"], "--min-sample"),
        (["--alpha", "2"], "--alpha"),
    ):
        out = cli("ab", "report", "iris", *bad)
        assert out.exit_code == 1 and why in out.output, out.output
    assert cli("ab", "report", "iris", "--method", "bayes").exit_code == 2  # usage error


def test_report_errors_exit_1_with_one_line(cli, client):
    out = cli("ab", "report", "nothing")
    assert out.exit_code == 1 and "No serving runs for model 'nothing'" in out.output
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.95}, replicas=1, windows=1)
    out = cli("ab", "report", "iris", "--metric", "mae")
    assert out.exit_code == 1 and "has mae" in out.output


def test_promote_if_better_moves_aliases(cli, client):
    register(client, "iris", champion="1", challenger="2")
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.95})
    out = cli("ab", "promote", "iris", "--if", "better")
    assert out.exit_code == 0, out.output
    assert "promoted iris version 2 to champion (previous <- 1)" in out.output
    assert (alias(client, "iris", "champion"), alias(client, "iris", "previous")) == ("2", "1")
    out = cli("ab", "promote", "iris", "--if", "better")  # nothing left to promote
    assert out.exit_code == EXIT_REJECTED and "already the champion" in out.output


def test_promote_refuses_without_a_significant_win(cli, client):
    register(client, "iris", champion="1", challenger="2")
    simulate(client, "iris", {"champion": 0.92, "challenger": 0.92}, seed=1)
    out = cli("ab", "promote", "iris", "--if", "better")
    assert out.exit_code == EXIT_REJECTED  # the check ran and said no: not an error
    assert "not promoted (--if better): no significant difference" in out.output
    assert alias(client, "iris", "champion") == "1"
    out = cli("ab", "promote", "iris", "--if", "not-worse")
    assert out.exit_code == 0 and alias(client, "iris", "champion") == "2"


def test_promote_refuses_a_challenger_alias_that_moved(cli, client):
    register(client, "iris", versions=3, champion="1", challenger="3")
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.95})  # served version 2
    out = cli("ab", "promote", "iris", "--if", "better")
    assert out.exit_code == EXIT_REJECTED and "evaluated version(s) 2" in out.output
    assert alias(client, "iris", "champion") == "1"


def test_gate_pass_tags_and_moves_alias(cli, client):
    register(client, "iris")
    out = cli(
        "models",
        "gate",
        "iris",
        "2",
        "--require",
        "accuracy>=0.90",
        "--require",
        "f1_macro >= 0.85",
        "--alias",
        "staging",
    )
    assert out.exit_code == 0, out.output
    assert "PASS  accuracy>=0.9: accuracy = 0.9" in out.output
    assert "approved; iris@staging -> version 2" in out.output
    assert client.get_model_version("iris", "2").tags["approval_status"] == "approved"
    assert alias(client, "iris", "staging") == "2"


def test_gate_fail_tags_rejected_and_keeps_alias(cli, client):
    register(client, "iris", staging="2")
    out = cli(
        "models",
        "gate",
        "iris",
        "1",
        "--require",
        "accuracy>=0.90",
        "--require",
        "auc>0.5",
        "--alias",
        "staging",
    )
    assert out.exit_code == EXIT_REJECTED
    assert "FAIL  accuracy>=0.9: accuracy = 0.85" in out.output
    assert "the run has no metric 'auc' (it has: accuracy, f1_macro)" in out.output
    assert client.get_model_version("iris", "1").tags["approval_status"] == "rejected"
    assert alias(client, "iris", "staging") == "2"


def test_gate_bad_requirement_writes_nothing(cli, client):
    register(client, "iris")
    out = cli("models", "gate", "iris", "2", "--require", "accuracy=>high")
    assert out.exit_code == 1 and "Bad requirement 'accuracy=>high'" in out.output
    assert "approval_status" not in client.get_model_version("iris", "2").tags
    assert cli("models", "gate", "iris", "9", "--require", "a>1").exit_code == 1


def test_runs_compare_marks_differences(cli, client):
    exp = client.create_experiment("cmp")
    ids = []
    for lr, acc in (("0.1", 0.9), ("0.2", 0.9), ("0.1", 0.95)):
        rid = client.create_run(exp).info.run_id
        client.log_param(rid, "lr", lr)
        client.log_param(rid, "depth", "3")
        client.log_metric(rid, "accuracy", acc)
        ids.append(rid)
    out = cli("runs", "compare", *ids)
    assert out.exit_code == 0, out.output
    lines = {
        key: ln
        for ln in out.output.splitlines()
        for key in ("params.lr", "params.depth", "metrics.accuracy")
        if key in ln
    }
    assert lines["params.lr"].startswith("*") and lines["metrics.accuracy"].startswith("*")
    assert not lines["params.depth"].startswith("*")
    assert "2 of 3 rows differ" in out.output
    data = orjson.loads(cli("runs", "compare", *ids[:2], "--json", "--only-diff").output)
    assert [r["key"] for r in data["rows"]] == ["lr"]
    assert cli("runs", "compare", ids[0]).exit_code == 1
    out = cli("runs", "compare", ids[0], "f" * 32)
    assert out.exit_code == 1 and "f" * 32 in out.output
