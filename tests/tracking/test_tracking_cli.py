"""The `trk` CLI as a user runs it: tables, --json, one-line errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import trk


def run_cli(*args, uri, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "trk.cli", *args, "--tracking-uri", uri],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_experiments_and_runs(tracking_uri):
    out = run_cli("experiments", "create", "cli-exp", "--json", uri=tracking_uri)
    assert out.returncode == 0, out.stderr
    exp_id = json.loads(out.stdout)[0]["experiment_id"]
    with trk.start_run(experiment_id=exp_id) as run:
        trk.log_metric("accuracy", 0.93)
        trk.log_param("C", "1")
    listed = run_cli("experiments", "search", uri=tracking_uri)
    assert "cli-exp" in listed.stdout and "Default" in listed.stdout
    found = run_cli(
        "runs",
        "search",
        "--experiment-name",
        "cli-exp",
        "--filter",
        "metrics.accuracy > 0.9",
        "--json",
        uri=tracking_uri,
    )
    assert found.returncode == 0, found.stderr
    assert [r["info"]["run_id"] for r in json.loads(found.stdout)] == [run.info.run_id]
    described = run_cli("runs", "describe", run.info.run_id, uri=tracking_uri)
    assert "metrics.accuracy" in described.stdout and "0.93" in described.stdout


def test_models_aliases(tracking_uri, tmp_path):
    client = trk.Client()
    source = tmp_path / "model"
    source.mkdir()
    for _ in range(2):
        client.create_model_version("iris", str(source))
    assert run_cli("models", "set-alias", "iris", "champion", "2", uri=tracking_uri).returncode == 0
    listed = run_cli("models", "list", uri=tracking_uri)
    assert "champion->v2" in listed.stdout
    versions = json.loads(run_cli("models", "versions", "iris", "--json", uri=tracking_uri).stdout)
    assert sorted(v["version"] for v in versions) == ["1", "2"]
    assert run_cli("models", "delete-alias", "iris", "champion", uri=tracking_uri).returncode == 0
    assert client.get_registered_model("iris").aliases == {}
    described = run_cli("models", "describe", "iris", uri=tracking_uri)
    assert "iris" in described.stdout


def test_errors_are_one_line_and_nonzero(tracking_uri):
    for args in (
        ["runs", "describe", "0" * 32],
        ["models", "versions", "nope"],
        ["models", "set-alias", "nope", "champion", "1"],
        ["runs", "search", "--filter", "metrics.x >>> 1"],
    ):
        out = run_cli(*args, uri=tracking_uri)
        assert out.returncode == 1, (args, out.stdout)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("trk: error:"), (args, out.stderr)
    bad_uri = subprocess.run(
        [sys.executable, "-m", "trk.cli", "models", "list", "--tracking-uri", "ftp://x"],
        capture_output=True,
        text=True,
    )
    assert bad_uri.returncode == 1 and "ftp://x" in bad_uri.stderr


def test_import_trk_and_help_do_not_import_heavy_frameworks():
    code = (
        "import sys, trk, trk.cli\n"
        "from click.testing import CliRunner\n"
        "CliRunner().invoke(trk.cli.main, ['--help'])\n"
        "heavy = [m for m in ('torch', 'onnxruntime', 'sklearn') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
