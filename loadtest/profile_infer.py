"""Where one `/invocations` request's CPU goes inside trk-serve, without sockets or `wrk`.

    .venv/bin/python loadtest/profile_infer.py [--requests 5000] [--repeat 7]

Drives ASGI callables in this process with the same one-row iris request: a bare Starlette
endpoint returning a constant (the framework floor), the same constant from plain ASGI (what
trk's infer routes pay before their own steps), trk-serve's app on `/invocations` and
on V2 infer (the same row as a V2 tensor), the app in shadow mode (the same model as its
challenger: the champion's answer plus the challenger's predict and compare, drained from the
shadow queue before the clock stops), and `DataPlane.infer` called directly (the
transport-free core). Prints the CPU microseconds per request of each (process CPU, every
thread: the minimum over interleaved repeats, as other jobs on a shared machine only ever
add time), the fold's CPU per record (off the request path but in the same process:
Prometheus series, windows, the feedback join, framing for the log shipper), then a profile
of `DataPlane.infer` and of the fold grouped by the part of trk that spends it. What the
HTTP stack adds (uvicorn, httptools, the socket) and the shipper process spends are
measured by `bench_serving.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BODY = b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'
V2_BODY = b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]}'
V2_PATH = "/v2/models/lr/infer"
HEADERS = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
SETTLE_EVERY = 250  # calls between two drains of the shadow queue (it holds 1,000)
# What DataPlane.infer calls, each row one function's cumulative time (file, function).
PARTS = [
    ("request id", "core/request_ids.py", "request_id"),
    ("route", "routing/router.py", "route"),
    ("decode (JSON to checked array)", "core/codecs.py", "decode_json"),
    ("model call", "models/pyfunc.py", "predict_checked"),
    ("encode", "core/codecs.py", "encode"),
    ("the record's append", "online/fold.py", "append"),
]
# What the fold calls per batch, each row one consumer's cumulative time.
FOLD_PARTS = [
    ("take the buffer", "online/fold.py", "take"),
    ("predicted classes (once for all)", "online/records.py", "classes"),
    ("request series", "online/series.py", "fold"),
    ("breaker guard", "online/guards.py", "fold"),
    ("predicted-class series", "routing/metrics.py", "fold"),
    ("feedback join", "online/feedback.py", "fold"),
    ("report windows", "online/reporter.py", "fold"),
    ("frame for the log shipper", "online/shipper_link.py", "fold"),
]


def scope(path: str = "/invocations", body: bytes = BODY) -> dict[str, Any]:
    headers = [*HEADERS, (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8080),
    }


async def per_request_us(
    call: Callable[[], Awaitable[Any]],
    n: int,
    fold: Callable[[], Any] = lambda: None,
    settle: Callable[[], None] = lambda: None,
) -> float:
    """CPU per call; `fold` runs after, untimed (the inline path never yields to its task);
    `settle` blocks until work the calls handed to other threads is done (timed), every
    SETTLE_EVERY calls: a shadow queue left to fill would drop copies instead of costing them."""
    for _ in range(min(n, 200)):  # warm: the inline-predict decision needs a measured predict
        await call()
    settle()
    fold()
    started = time.process_time()
    for i in range(n):
        await call()
        if i % SETTLE_EVERY == SETTLE_EVERY - 1:
            settle()
    settle()
    spent = time.process_time() - started
    fold()
    return spent / n * 1e6


def shadow_settled(app: Any) -> Callable[[], None]:
    """Blocks (the event loop too, so no fold runs meanwhile) until every copy the shadow
    runner was given is compared, dropped or failed: the copies its draining task would
    take are drained here (inline, or handed to its worker)."""
    runner = app.state.serving.shadow

    def outcomes() -> int:
        c = runner.counters()
        return c["requests_compared"] + c["dropped"] + c["error"] + c["timeout"]

    def settle() -> None:
        seen = -1
        while runner.queue or outcomes() != seen:  # the worker's last batch counted too
            runner.drain()
            seen = outcomes()
            time.sleep(0.05)

    return settle


async def fold_per_record_us(call: Callable[[], Awaitable[Any]], n: int, fold: Any) -> float:
    fold()
    for _ in range(n):
        await call()
    started = time.process_time()
    folded = fold()
    return (time.process_time() - started) / max(folded, 1) * 1e6


def asgi_call(
    app: Any, path: str = "/invocations", body: bytes = BODY
) -> Callable[[], Awaitable[None]]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"the app answered {message['status']}")

    return lambda: app(scope(path, body), receive, send)


def bare_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def constant(request: Request) -> Response:
        await request.body()
        return Response(b'{"predictions":[0]}', media_type="application/json")

    return Starlette(routes=[Route("/invocations", constant, methods=["POST"])])


async def plain_asgi(scope: Any, receive: Any, send: Any) -> None:
    """The same constant answer sent from plain ASGI: what trk's infer routes start from."""
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"19"), (b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"predictions":[0]}'})


def iris_model(root: Path) -> str:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import trk.sklearn

    x, y = load_iris(return_X_y=True)
    path = root / "lr"
    trk.sklearn.save_model(LogisticRegression(max_iter=300).fit(x, y), path, input_example=x[:2])
    return str(path)


def shares(
    profile: cProfile.Profile, parts: list[tuple[str, str, str]], whole: tuple[str, str], rest: str
) -> dict[str, float]:
    """Each part's cumulative time as a fraction of the whole function's."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]

    def cumulative(path: str, function: str) -> float:
        # max, not sum: a name may be a wrapper and the function it wraps (codec.encode)
        times = [v[3] for (f, _, name), v in stats.items() if f.endswith(path) and name == function]
        return max(times, default=0.0)

    total = cumulative(*whole) or 1.0
    out = {part: cumulative(path, fn) / total for part, path, fn in parts}
    out[rest] = 1.0 - sum(out.values())
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from starlette.datastructures import Headers

    from trk.serving.config import ServeSettings
    from trk.serving.http.app import create_app

    root = Path(tempfile.mkdtemp(prefix="trk-profile-"))
    model = iris_model(root)
    app = create_app(ServeSettings(model_uri=model, tracking_uri=f"sqlite:///{root}/t.db"))
    shadow_app = create_app(
        ServeSettings(
            model_uri=model,
            challenger_uri=model,
            mode="shadow",
            tracking_uri=f"sqlite:///{root}/shadow.db",
        )
    )
    plane, folder = app.state.dataplane, app.state.serving.folder
    shadow_plane, shadow_folder = shadow_app.state.dataplane, shadow_app.state.serving.folder
    for p in (plane, shadow_plane):
        await p.start()
        await p.wait_loaded()
    headers = Headers(scope=scope())
    direct = "DataPlane.infer, called directly"
    shadow = "trk-serve app, shadow mode"
    calls = {
        "bare Starlette, constant body": asgi_call(bare_app()),
        "plain ASGI, constant body": asgi_call(plain_asgi),
        "trk-serve app, /invocations": asgi_call(app),
        "trk-serve app, V2 infer": asgi_call(app, V2_PATH, V2_BODY),
        shadow: asgi_call(shadow_app),
        direct: lambda: plane.infer(BODY, "application/json", headers),
    }
    settled = shadow_settled(shadow_app)
    best = {name: float("inf") for name in calls}
    fold_us = shadow_fold_us = float("inf")
    for _ in range(args.repeat):
        for name, call in calls.items():
            fold, settle = (shadow_folder.fold, settled) if name == shadow else (folder.fold, None)
            us = await per_request_us(call, args.requests, fold, settle or (lambda: None))
            best[name] = min(best[name], us)
        fold_us = min(fold_us, await fold_per_record_us(calls[direct], args.requests, folder.fold))
        settled()
        shadow_folder.fold()
        for i in range(args.requests):
            await calls[shadow]()
            if i % SETTLE_EVERY == SETTLE_EVERY - 1:
                settled()
        settled()
        started = time.process_time()
        folded = shadow_folder.fold()
        per_request = (time.process_time() - started) / max(folded, 1) * 2 * 1e6
        shadow_fold_us = min(shadow_fold_us, per_request)
    print(f"CPU us per request, one iris row, min of {args.repeat} x {args.requests}:")
    for name, us in best.items():
        print(f"  {name:34s} {us:7.1f}")
    print(f"  {'the fold, per record (off the path)':34s} {fold_us:7.1f}")
    print(f"  {'the fold, shadow mode, per request':34s} {shadow_fold_us:7.1f}")
    profile = cProfile.Profile()
    profile.enable()
    await per_request_us(calls[direct], args.requests)
    profile.disable()
    print("DataPlane.infer by part (share of its profiled time, and that share of its CPU):")
    rest = "the rest of infer (the plane's own steps, the record)"
    for part, share in shares(profile, PARTS, ("core/plane.py", "infer"), rest).items():
        print(f"  {part:56s} {share:6.1%} {share * best[direct]:6.1f} us")
    profile = cProfile.Profile()
    profile.enable()
    folder.fold()
    profile.disable()
    print("The fold by consumer (share of its profiled time, and that share of its CPU):")
    rest = "the rest of the fold"
    for part, share in shares(profile, FOLD_PARTS, ("online/fold.py", "fold"), rest).items():
        print(f"  {part:56s} {share:6.1%} {share * fold_us:6.1f} us")
    await plane.stop()
    await shadow_plane.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
