"""--log-samples: sampled requests with both variants' answers as run artifacts; ab replay."""

from __future__ import annotations

from pathlib import Path

import orjson
from ab_serving import ThreadServer, register_models, send, stream
from click.testing import CliRunner

from trk.cli import main
from trk.serving.config import ServeSettings
from trk.serving.http.app import create_app


def test_samples_are_uploaded_per_window_and_replay_against_a_new_model(
    client, tmp_path, monkeypatch
):
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    versions = register_models(
        client.tracking_uri, "smp", {"champion": 0.10, "challenger": 0.05, "next": 0.0}
    )
    settings = ServeSettings(
        model_uri="models:/smp@champion",
        challenger_uri="models:/smp@challenger",
        mode="shadow",
        tracking_uri=client.tracking_uri,
        report_interval_s=0.5,
        log_samples=1.0,
    )
    server = ThreadServer(create_app(settings)).start()
    try:
        x, _ = stream(40, seed=5)
        assert {a[2] for a in send(server.url, x, threads=1)} == {200}
    finally:
        server.stop()  # the last window's samples are uploaded on shutdown
    exp = client.get_experiment_by_name("serving/smp")
    (run,) = [
        r
        for r in client.search_runs(exp.experiment_id, "")
        if r.data.params["variant"] == "champion"
    ]
    files = client.list_artifacts(run.info.run_id, "samples")
    assert files and all(f.path.endswith(".jsonl") for f in files)
    lines = []
    for f in files:
        local = client.download_artifacts(run.info.run_id, f.path, tmp_path / "dl")
        lines += [orjson.loads(x) for x in Path(local).read_bytes().splitlines()]
    assert len(lines) == 40
    first = lines[0]
    assert set(first["answers"]) == {"champion", "challenger"}  # both variants' answers
    assert first["variant"] == "champion" and first["version"] == versions["champion"]
    assert len(first["input"]["inputs"]) == 1
    out = CliRunner().invoke(
        main,
        [
            "ab",
            "replay",
            "smp",
            "--run",
            run.info.run_id,
            "--tracking-uri",
            client.tracking_uri,
            "--challenger-uri",
            "models:/smp@next",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    result = orjson.loads(out.output)
    assert result["samples"] == 40 and result["errors"] == 0
    # The "next" model is always right; the recorded answers were right ~90% / ~95% of the time.
    compared, agreed = result["agreement"]["champion"]
    assert compared == 40 and 30 <= agreed < 40
    out = CliRunner().invoke(
        main,
        [
            "ab",
            "replay",
            "other",
            "--run",
            run.info.run_id,
            "--challenger-uri",
            "models:/smp@next",
            "--tracking-uri",
            client.tracking_uri,
        ],
    )
    assert out.exit_code == 1 and "not a serving run of model 'other'" in out.output
