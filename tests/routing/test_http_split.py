"""Split mode over HTTP: proportions, sticky assignment across two server processes."""

from __future__ import annotations

import httpx
from routing_helpers import wait_started
from serving_helpers import IRIS_COLUMNS, metric_value

from trk.serving.routing.router import stable_unit

ROW = {"dataframe_split": {"columns": IRIS_COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}}


def test_split_proportions_metadata_and_health(serve):
    server = serve(
        challenger_uri="models:/iris@challenger",
        mode="split",
        challenger_weight=0.3,
        allow_forced_variant=True,  # off by default (issue 14)
    )
    counts = {"champion": 0, "challenger": 0}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(2000):
            r = http.post("/invocations", json=ROW)
            assert r.status_code == 200
            counts[r.headers["x-trk-variant"]] += 1
        # binomial(2000, 0.3): sd 20.5, so +-5 sd is +-103
        assert abs(counts["challenger"] - 600) < 103, counts
        forced = http.post("/invocations", json=ROW, headers={"X-Trk-Variant": "challenger"})
        assert forced.headers["x-trk-variant"] == "challenger"
        assert forced.headers["x-trk-model-version"] == "2"
        health = http.get("/health").json()
        meta = http.get("/metadata").json()
        text = http.get("/metrics").text
    assert health["mode"] == meta["mode"] == "split"
    assert health["routing"]["challenger_weight"] == 0.3
    weights = {v["name"]: (v["weight"], v["state"]) for v in health["variants"]}
    assert weights == {"champion": (0.7, "ready"), "challenger": (0.3, "ready")}
    assert {v["variant"]: v["version"] for v in meta["variants"]} == {
        "champion": "1",
        "challenger": "2",
    }
    assert metric_value(text, "trk_variant_weight", variant="challenger") == 0.3
    served = metric_value(text, "trk_requests_total", variant="challenger", status="200")
    assert served == counts["challenger"] + 1
    labelled = metric_value(text, "trk_predictions_total", variant="champion")
    assert labelled == counts["champion"]


def test_sticky_assignment_is_the_same_in_two_server_processes(trk_serve, tmp_path):
    flags = ["--model-uri", "models:/iris@champion", "--challenger-uri", "models:/iris@challenger"]
    a = trk_serve(
        *flags,
        "--mode",
        "split",
        "--challenger-weight",
        "0.5",
        "--sticky-header",
        "X-User-Id",
        wait=False,
    )
    config = tmp_path / "routing.yaml"  # the second one reads a file and the environment
    config.write_text(
        "model_uri: models:/iris@champion\nchallenger_uri: models:/iris@challenger\n"
        "challenger-weight: 0.5\nsticky_header: X-User-Id\n"
    )
    b = trk_serve("--config", str(config), env={"TRK_MODE": "split"}, wait=False)
    for proc, url, log in (a, b):  # both start at once
        wait_started(url, proc, log)
    url_a, url_b = a[1], b[1]
    keys = [f"user-{i}" for i in range(500)]
    seen = {}
    for url in (url_a, url_b, url_a):
        with httpx.Client(base_url=url, timeout=30) as http:
            got = [
                http.post("/invocations", json=ROW, headers={"X-User-Id": k}).headers[
                    "x-trk-variant"
                ]
                for k in keys
            ]
        seen.setdefault(url, []).append(got)
    first = seen[url_a][0]
    assert seen[url_a][1] == first == seen[url_b][0]
    # the assignment is a function of the key alone: the same after any restart
    assert first == ["challenger" if stable_unit(k) < 0.5 else "champion" for k in keys]
    assert 200 < first.count("challenger") < 300
    with httpx.Client(base_url=url_b, timeout=30) as http:
        for _ in range(20):
            assert http.post("/invocations", json=ROW).status_code == 200
        text = http.get("/metrics").text
    assert metric_value(text, "trk_sticky_fallback_total") == 20
