"""ServeSettings validation, the YAML config file and the trk-serve flags (no server started)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from trk.exceptions import InvalidParameter
from trk.serving.cli import serve
from trk.serving.config import ServeSettings, build_settings, load_config_file

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"model_uri": ""}, "--model-uri is required"),
        ({"mode": "canary"}, "--mode 'canary' is unknown"),
        ({"challenger_uri": "models:/iris@b"}, "needs --mode shadow or --mode split"),
        ({"mode": "split"}, "--mode split needs --challenger-uri"),
        ({"mode": "split", "challenger_uri": "x", "challenger_weight": 1.5}, "[0, 1]"),
        ({"shadow_sample": -0.1}, "--shadow-sample"),
        ({"workers": 0}, "--workers"),
        ({"timeout_s": 0}, "--timeout-s"),
        ({"max_batch_size": 0}, "--max-batch-size"),
        ({"optimize": "tensorrt"}, "--optimize"),
    ],
)
def test_bad_settings_refused_with_one_line(kwargs, words):
    with pytest.raises(InvalidParameter) as err:
        ServeSettings(**{"model_uri": "models:/iris@champion", **kwargs})
    assert words in err.value.message
    assert "\n" not in err.value.message


def test_batching_only_above_one_row():
    assert not ServeSettings(model_uri="m").batching
    assert not ServeSettings(model_uri="m", max_batch_size=1).batching
    assert ServeSettings(model_uri="m", max_batch_size=32).batching


def test_yaml_file_then_flags_on_top(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(
        "model-uri: models:/iris@champion\nchallenger_uri: models:/iris@challenger\n"
        "mode: split\nchallenger-weight: 0.25\nport: 9000\n"
    )
    values = load_config_file(path)
    settings = build_settings(values, {"port": 9100})
    assert settings.mode == "split" and settings.challenger_weight == 0.25
    assert settings.port == 9100


def test_yaml_unknown_key_and_bad_type(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model_uri: m\nwieght: 0.3\n")
    with pytest.raises(InvalidParameter, match="unknown setting"):
        load_config_file(path)
    path.write_text("model_uri: m\nmode: split\nchallenger_uri: c\nchallenger_weight: lots\n")
    with pytest.raises(InvalidParameter):
        build_settings(load_config_file(path), {})


def test_help_lists_flags_and_variables():
    out = CliRunner().invoke(serve, ["--help"]).output
    for flag, env in [
        ("--model-uri", "TRK_MODEL_URI"),
        ("--port", "TRK_PORT"),
        ("--workers", "TRK_WORKERS"),
        ("--max-body-mb", "TRK_MAX_BODY_MB"),
        ("--timeout-s", "TRK_TIMEOUT_S"),
        ("--max-batch-size", "TRK_MAX_BATCH_SIZE"),
        ("--max-batch-delay-ms", "TRK_MAX_BATCH_DELAY_MS"),
        ("--tracking-uri", "TRK_TRACKING_URI"),
        ("--challenger-uri", "TRK_CHALLENGER_URI"),
        ("--allow-forced-variant", "TRK_ALLOW_FORCED_VARIANT"),
        ("--graceful-timeout-s", "TRK_GRACEFUL_TIMEOUT_S"),
        ("--breaker-timeouts", "TRK_BREAKER_TIMEOUTS"),
        ("--breaker-cooldown-s", "TRK_BREAKER_COOLDOWN_S"),
        ("--feedback-token", "TRK_FEEDBACK_TOKEN"),
    ]:
        assert flag in out and env in out, flag
    assert "TRK_MODEL_CACHE" in out  # read by the model loader, not a flag (issue 14)


def test_unresolvable_model_uri_exits_with_one_line(iris_env):
    runner = CliRunner()
    args = ["--tracking-uri", iris_env.tracking_uri]
    for uri, words in [
        ("models:/iris@nope", "nope"),
        ("models:/unknown-model/3", "unknown-model"),
        ("/no/such/dir", "/no/such/dir"),
    ]:
        result = runner.invoke(serve, ["--model-uri", uri, *args])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("trk-serve: error:"), result.output
        assert words in lines[0]


def test_bad_flag_value_exits_non_zero(iris_env):
    result = CliRunner().invoke(
        serve,
        [
            "--model-uri",
            "models:/iris@champion",
            "--mode",
            "split",
            "--challenger-uri",
            "models:/iris@challenger",
            "--challenger-weight",
            "2",
        ],
    )
    assert result.exit_code == 1
    assert "--challenger-weight must be within [0, 1]" in result.output


def test_env_variables_fill_flags(iris_env, monkeypatch):
    monkeypatch.setenv("TRK_MODEL_URI", "models:/iris@nope")
    monkeypatch.setenv("TRK_TRACKING_URI", iris_env.tracking_uri)
    result = CliRunner().invoke(serve, [])
    assert result.exit_code == 1 and "nope" in result.output


def test_feedback_off_loopback_needs_a_token_from_a_file_or_the_environment(tmp_path):
    """Labels decide rollouts: bound beyond loopback, /feedback needs a token (never in argv)
    unless the operator says an open one is meant."""
    runner = CliRunner()
    base = ["--model-uri", str(tmp_path / "no-model"), "--host", "0.0.0.0"]
    token = "feedback-token-for-tests-0123456789"

    def first_line(args, env=None):
        result = runner.invoke(serve, args, env=env or {})
        assert result.exit_code == 1, result.output
        return result.output.strip().splitlines()[0]

    assert "Refusing to serve /feedback on 0.0.0.0 without a token" in first_line(base)
    assert "process list" in first_line([*base, "--feedback-token", token])
    path = tmp_path / "token"
    path.write_text(token + "\n")
    for args, env in (
        ([*base, "--feedback-token-file", str(path)], None),
        (base, {"TRK_FEEDBACK_TOKEN": token}),
        ([*base, "--insecure-open-feedback"], None),
        (["--model-uri", str(tmp_path / "no-model"), "--host", "127.0.0.1"], None),
    ):
        assert "no-model" in first_line(args, env)  # past the check: the model is missing
    assert ServeSettings(model_uri="m", host="::1").host == "::1"
    with pytest.raises(InvalidParameter, match="without a token"):
        ServeSettings(model_uri="m", host="10.0.0.5")
