"""Reference servers for the benchmark: the HTTP floor and a hand-written sklearn endpoint.

    python loadtest/ref_servers.py bare --port 9000 [--fast] [--workers 2]
    python loadtest/ref_servers.py handwritten --port 9001 --model model.pkl
    python loadtest/ref_servers.py minimal --port 9002 --model lr.pkl --fast --nodelay

`bare` answers a constant body (what the HTTP stack alone costs); `handwritten` is the
endpoint people write by hand: json.loads, numpy, estimator.predict, json.dumps. `minimal`
is the least a Python server does to answer a one-row logistic regression: plain ASGI,
orjson, and trk's numpy kernel for linear models (no checks, no ids, no records); with
--nodelay it runs on trk-serve's protocol, so the distance from it to trk-serve is what
trk's own steps cost. All run on uvicorn's defaults (h11, asyncio loop) unless --fast asks
for uvloop + httptools.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trk.models.flavors.linear import linear_predict

BODY = b'{"predictions":[0]}'


async def _constant(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


def bare_app() -> Starlette:
    return Starlette(routes=[Route("/invocations", _constant, methods=["POST"])])


def handwritten_app() -> Starlette:
    # the reference server is not trk: it reads its one setting from the environment itself
    with open(os.environ["REF_MODEL_PKL"], "rb") as f:
        model = pickle.load(f)

    async def invocations(request: Request) -> Response:
        doc = json.loads(await request.body())
        x = np.array(doc["inputs"], dtype=float)
        preds = model.predict(x)
        return Response(json.dumps({"predictions": preds.tolist()}), media_type="application/json")

    return Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])


def minimal_app() -> Any:
    with open(os.environ["REF_MODEL_PKL"], "rb") as f:
        model = pickle.load(f)
    predict = linear_predict(model)  # trk-serve's own kernel: the distance is the rest of trk
    if predict is None:
        raise SystemExit(f"minimal: {type(model).__name__} is not a plain linear model")
    json_type = (b"content-type", b"application/json")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # startup, then shutdown: nothing to do for either
            for step in ("startup", "shutdown"):
                await receive()
                await send({"type": f"lifespan.{step}.complete"})
            return
        message = await receive()
        x = np.array(orjson.loads(message["body"])["inputs"])
        body = orjson.dumps({"predictions": predict(x)}, option=orjson.OPT_SERIALIZE_NUMPY)
        headers = [json_type, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["bare", "handwritten", "minimal"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--fast", action="store_true", help="uvloop + httptools")
    parser.add_argument(
        "--nodelay", action="store_true", help="trk's protocol: TCP_NODELAY, one write per response"
    )
    args = parser.parse_args()
    if args.model:
        os.environ["REF_MODEL_PKL"] = args.model
    kwargs = {"host": "127.0.0.1", "port": args.port, "log_level": "warning", "access_log": False}
    if args.fast:
        kwargs.update(loop="uvloop", http="httptools")
    if args.nodelay:
        kwargs["http"] = "trk.serving.runner:ServingHttpProtocol"
    uvicorn.run(
        f"ref_servers:{args.kind}_app",
        factory=True,
        workers=args.workers,
        app_dir=str(Path(__file__).parent),
        **kwargs,
    )


if __name__ == "__main__":
    main()
