"""Issue 14, trk-serve side: hostile and faulty input against real `trk-serve` processes.

One test per finding: a challenger that hangs in split mode (champion answers stay in
time, the breaker opens, SIGTERM drains within --graceful-timeout-s), the breaker closing
after its cool-down probe, a client that trickles its body, variant forcing (off by default,
never a shadow), the /feedback token, client request ids, and data a model without a
signature cannot read. Waits are bounded (client timeouts, `proc.wait`), never measured.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hardening_models import HANG_ENV
from serving_helpers import TRK_SERVE, metric_value, post_json, stop_all, wait_for, wait_until

from uvicorn_thread import free_port

TOKEN = "feedback-token-for-tests-0123456789"
ROW = {"inputs": [[1.0, 2.0]]}
IRIS_ROW = {"inputs": [[5.1, 3.5, 1.4, 0.2]]}
TIMEOUT_S = 2.0
GRACE_S = 3.0


@pytest.fixture(scope="module")
def start(hardening_env, tmp_path_factory) -> Iterator[object]:
    """Factory: a real `trk-serve` on a free port (extra variables allowed); killed at the end."""
    procs: list[subprocess.Popen] = []
    logs = tmp_path_factory.mktemp("trk-serve-logs")

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
        port = free_port()
        with open(logs / f"{port}.log", "w") as log:  # a file: a pipe left unread can fill up
            proc = subprocess.Popen(
                [TRK_SERVE, "--port", str(port), "--report-interval-s", "3600", *args],
                env={**os.environ, **hardening_env.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(url, proc=proc)
        except (AssertionError, AttributeError):  # not ready, or exited (no stderr pipe)
            raise AssertionError((logs / f"{port}.log").read_text()[-3000:]) from None
        return proc, url

    yield run
    stop_all(procs)


def _hung_split(start, hang: Path, cooldown_s: float) -> tuple[subprocess.Popen, str]:
    """Split mode with the sleepy challenger, hanging from the moment it is loaded."""
    served = start(
        "--model-uri",
        "models:/toy@champion",
        "--challenger-uri",
        "models:/sleepy@challenger",
        "--mode",
        "split",
        "--challenger-weight",
        "0.5",
        "--timeout-s",
        str(TIMEOUT_S),
        "--graceful-timeout-s",
        str(GRACE_S),
        "--breaker-timeouts",
        "3",
        "--breaker-cooldown-s",
        str(cooldown_s),
        env={HANG_ENV: str(hang)},
    )
    hang.touch()  # after the warm-up predict at load
    return served


def _burst(url: str, n: int) -> list[httpx.Response]:
    """`n` requests, 16 at a time; each may wait twice --timeout-s, no longer."""
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda _: post_json_bounded(url, ROW), range(n)))


def post_json_bounded(url: str, body: object) -> httpx.Response:
    return httpx.post(url + "/invocations", json=body, timeout=2 * TIMEOUT_S)


def _challenger(url: str) -> dict:
    variants = httpx.get(url + "/health", timeout=5).json()["variants"]
    return next(v for v in variants if v["name"] == "challenger")


def test_hung_challenger_never_delays_the_champion_opens_the_breaker_and_drains(start, tmp_path):
    proc, url = _hung_split(start, tmp_path / "hang", cooldown_s=3600)
    answers = _burst(url, 48)
    by_variant = {"champion": [], "challenger": []}
    for r in answers:
        by_variant[r.headers["x-trk-variant"]].append(r.status_code)
    # Every champion answer came in time (a 200, not a 504), while challenger threads hung.
    assert by_variant["champion"] and set(by_variant["champion"]) == {200}
    # Challenger requests timed out (3 in a row open the breaker; more were in flight).
    assert len(by_variant["challenger"]) >= 3 and set(by_variant["challenger"]) == {504}
    after = [post_json_bounded(url, ROW) for _ in range(20)]
    assert {(r.status_code, r.headers["x-trk-variant"]) for r in after} == {(200, "champion")}
    health = httpx.get(url + "/health", timeout=5)
    assert health.status_code == 200  # the champion serves: the replica stays ready
    challenger = _challenger(url)
    assert challenger["state"] == "degraded" and challenger["breaker"]["state"] == "open"
    text = httpx.get(url + "/metrics", timeout=5).text
    assert metric_value(text, "trk_circuit_breaker_opened_total", variant="challenger") == 1
    wait_until(
        lambda: (
            metric_value(
                httpx.get(url + "/metrics", timeout=5).text,
                "trk_variant_state",
                variant="challenger",
                state="degraded",
            )
            == 1
        ),
        timeout=30,
    )
    # Predict threads still sleep inside the challenger: SIGTERM must not wait for them.
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=GRACE_S + 20) == 0


def test_open_breaker_closes_after_a_probe_answers_in_time(start, tmp_path):
    hang = tmp_path / "hang"
    proc, url = _hung_split(start, hang, cooldown_s=1.0)
    wait_until(lambda: _burst(url, 8) and _challenger(url)["breaker"]["state"] != "closed")
    hang.unlink()  # the challenger recovers; the next probe after the cool-down gets through
    wait_until(lambda: _burst(url, 4) and _challenger(url)["state"] == "ready", timeout=60)
    assert _challenger(url)["breaker"]["state"] == "closed"
    served = {post_json_bounded(url, ROW).headers["x-trk-variant"] for _ in range(40)}
    assert served == {"champion", "challenger"}  # its share of traffic is back


def test_sigterm_stops_waiting_for_a_request_after_the_grace_period(start):
    proc, url = start(
        "--model-uri", "models:/toy@champion", "--timeout-s", "300", "--graceful-timeout-s", "1"
    )
    with ThreadPoolExecutor(1) as pool:  # a predict of 60 s, well inside --timeout-s
        slow = pool.submit(post_json, url, {"inputs": [[1.0, 2.0]], "params": {"sleep": 60}})
        wait_until(lambda: metric_value(httpx.get(url + "/metrics").text, "trk_in_flight_requests"))
        os.kill(proc.pid, signal.SIGTERM)
        # Without the bound the drain would wait the full 60 s for that request.
        assert proc.wait(timeout=30) == 0
        answer = slow.result(timeout=30)  # cancelled, and told so
    assert answer.status_code == 503 and answer.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "--graceful-timeout-s" in answer.json()["message"]


@pytest.fixture(scope="module")
def plain(start) -> str:
    """Split with weight 0 (the challenger answers only when forced), a feedback token."""
    _, url = start(
        "--model-uri",
        "models:/iris@champion",
        "--challenger-uri",
        "models:/iris@challenger",
        "--mode",
        "split",
        "--challenger-weight",
        "0",
        "--timeout-s",
        str(TIMEOUT_S),
        env={"TRK_FEEDBACK_TOKEN": TOKEN},
    )
    return url


def test_a_trickled_body_gets_408_within_the_timeout(plain):
    port = int(plain.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=4 * TIMEOUT_S) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"inputs": ['
        )  # ...and nothing more: without a deadline this connection would wait forever
        answer = b""
        while b"}" not in answer:  # the JSON error body; socket.timeout here fails the test
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive within --timeout-s" in answer


def test_variant_forcing_is_off_by_default(plain):
    r = post_json(plain, IRIS_ROW, headers={"X-Trk-Variant": "challenger"})
    assert r.status_code == 200 and r.headers["x-trk-variant"] == "champion"
    assert httpx.get(plain + "/health").json()["routing"]["allow_forced_variant"] is False


def test_forcing_never_answers_from_a_shadow(start):
    _, url = start(
        "--model-uri",
        "models:/iris@champion",
        "--challenger-uri",
        "models:/iris@challenger",
        "--mode",
        "shadow",
        "--allow-forced-variant",
    )
    r = post_json(url, IRIS_ROW, headers={"X-Trk-Variant": "challenger"})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "shadow never answers" in r.json()["message"]
    assert "x-trk-variant" not in r.headers  # refused before any variant was chosen
    forced = post_json(url, IRIS_ROW, headers={"X-Trk-Variant": "champion"})
    assert forced.status_code == 200 and forced.headers["x-trk-variant"] == "champion"


def test_feedback_needs_the_token_when_one_is_set(plain):
    r = post_json(plain, IRIS_ROW, headers={"X-Request-Id": "fb-1"})
    label = {"request_id": "fb-1", "label": 0}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = httpx.post(plain + "/feedback", json=label, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error_code"] == "UNAUTHENTICATED"
        assert refused.headers["www-authenticate"] == "Bearer"
    text = httpx.get(plain + "/metrics").text
    assert metric_value(text, "trk_feedback_total") == 0  # nothing was recorded
    ok = httpx.post(plain + "/feedback", json=label, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and r.status_code == 200
    assert ok.json()["joined"] == 1


@pytest.mark.parametrize(
    "given",
    ["x" * 129, "has space", "semi;colon", 'quote"', "<script>", "ünï", "a/b", "%41"],
)
def test_request_ids_that_are_not_plain_are_replaced(plain, given):
    for body in (IRIS_ROW, {"nope": 1}):  # an answer and an error alike
        r = httpx.post(plain + "/invocations", json=body, headers={"X-Request-Id": given.encode()})
        returned = r.headers["x-request-id"]
        assert returned != given and len(returned) == 32 and int(returned, 16) >= 0


def test_plain_request_ids_are_kept(plain):
    for given in ("a" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e", "trace:01J.x_y-z"):
        r = post_json(plain, IRIS_ROW, headers={"X-Request-Id": given})
        assert r.headers["x-request-id"] == given


@pytest.fixture(scope="module")
def nosig(start) -> str:
    _, url = start("--model-uri", "models:/nosig@champion")
    return url


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"inputs": [["a", "b"]]}, "could not convert string to float"),
        ({"inputs": [[1.0, 2.0, 3.0]]}, "X has 3 features"),
        ({"inputs": [[None, 1.0, 2.0, 3.0]]}, "contains NaN"),
        ({"dataframe_split": {"columns": ["a"], "data": [["x"]]}}, "could not convert"),
    ],
)
def test_data_a_model_without_signature_cannot_read_is_a_400(nosig, body, words):
    r = post_json(nosig, body)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "BAD_REQUEST"
    assert words in r.json()["message"] and "could not read the input" in r.json()["message"]
    assert post_json(nosig, IRIS_ROW).json() == {"predictions": [0]}
