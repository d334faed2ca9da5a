"""`--optimize onnx`: a converted sklearn model serves the same answers; others fall back."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from serving_helpers import expected, post_json

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")


def test_sklearn_model_served_through_onnx(serve_app, iris_env):
    server = serve_app(optimize="onnx")
    meta = httpx.get(server.url + "/metadata").json()
    assert meta["flavor"] == "onnx"
    assert meta["optimization"]["onnx"] == "converted"
    assert meta["optimization"]["agreement"]["label_agreement"] >= 0.999
    rows = iris_env.x[::7]
    resp = post_json(server.url, {"inputs": rows.tolist()})
    assert resp.status_code == 200, resp.text
    assert resp.json()["predictions"] == expected(iris_env.lr, rows).tolist()
    proba = post_json(
        server.url, {"inputs": rows.tolist(), "params": {"predict_method": "predict_proba"}}
    )
    assert proba.status_code == 200, proba.text  # the onnx flavor maps it to its scores
    got = np.asarray(proba.json()["predictions"])
    assert np.allclose(got, expected(iris_env.lr, rows, "predict_proba"), atol=1e-4)


def test_unconvertible_model_falls_back_with_the_reason(serve_app):
    server = serve_app(model_uri="models:/toy@champion", optimize="onnx")
    meta = httpx.get(server.url + "/metadata").json()
    assert meta["flavor"] == "python_function"
    assert meta["optimization"]["onnx"] == "fallback"
    assert meta["optimization"]["reason"]
    assert post_json(server.url, {"inputs": [[1.0, 2.0]]}).json() == {"predictions": [3.0]}
