"""The infer shortcut's V2 path match agrees with Starlette's route table, path by path.

`ServingApp` answers a POST to an infer path without asking Starlette's router; a path the
shortcut reads differently from Starlette would reach a handler Starlette would not give it
(or miss one it would), so both are asked about the same paths.
"""

from __future__ import annotations

import pytest
from starlette.routing import Match, Route

from trk.serving.http.infer import V2_PATHS_KEPT, InferRoutes, v2_path
from trk.serving.http.v2 import MODEL, VERSION

pytestmark = pytest.mark.unit

PATHS = [
    "/v2/models/iris/infer",
    "/v2/models/iris/versions/3/infer",
    "/v2/models/iris/versions/latest/infer",
    "/v2/models/a b/infer",  # ASGI paths arrive percent-decoded
    "/v2/models/iris%2Fx/infer",
    "/v2/models//infer",
    "/v2/models/iris/versions//infer",
    "/v2/models/iris/versions/3/4/infer",
    "/v2/models/iris/extra/3/infer",
    "/v2/models/iris/infer/",
    "/v2/models/infer",
    "/v2/models/iris/ready",
    "/v2/models/iris/versions/3",
    "/v2/models/iris/inference",
    "/v2/models/iris/versions/infer",
    "/v2/models/iris/x/versions/3/infer",
    "/V2/models/iris/infer",
    "/v2/models/ir/is/infer",
    "/invocations",
]


def starlette_match(path: str) -> tuple[str, str | None] | None:
    scope = {"type": "http", "method": "POST", "path": path, "root_path": ""}
    for pattern in (MODEL, VERSION):
        match, child = Route(pattern + "/infer", lambda r: None, methods=["POST"]).matches(scope)
        if match is Match.FULL:
            params = child["path_params"]
            return params["name"], params.get("version")
    return None


@pytest.mark.parametrize("path", PATHS)
def test_the_shortcut_matches_what_starlette_matches(path):
    assert v2_path(path) == starlette_match(path)


def test_a_path_read_once_is_read_the_same_and_few_are_kept():
    """`InferRoutes.match` keeps parsed V2 paths for the next request: each request still
    gets its own path's name and version, and clients that send endless names cannot grow
    what is kept past V2_PATHS_KEPT."""
    routes = InferRoutes(None, None, 1.0)  # type: ignore[arg-type]  # match reads paths only
    for _ in range(2):  # the second round reads what the first one kept
        for i in range(V2_PATHS_KEPT * 3):
            path = f"/v2/models/m{i}/infer" if i % 2 else f"/v2/models/m{i}/versions/{i}/infer"
            scope: dict[str, object] = {"path": path}
            assert routes.match(scope) == routes.v2_infer
            assert scope["path_params"] == {"name": f"m{i}", "version": None if i % 2 else str(i)}
        assert routes.match({"path": "/v2/models/m1/ready"}) is None
        assert routes.match({"path": "/invocations"}) == routes.invocations
    assert len(routes._v2_paths) == V2_PATHS_KEPT
