"""The Open Inference Protocol end to end: the real `tritonclient` against real `trk-serve`s.

Four servers start once for the module: registered iris (logistic regression as champion,
the random forest as a challenger at weight 0, so routing is deterministic and
`versions/2` forces the challenger), a torch net, an ONNX ridge and a sklearn pipeline over
a string column with string labels (BYTES in and out), each served from its directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as tc  # the test extra: a missing client fails, never skips
from serving_helpers import IRIS_COLUMNS, TRK_SERVE, expected, metric_value
from tritonclient.utils import InferenceServerException

from uvicorn_thread import free_port

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]])
COLORS = pd.DataFrame({"color": ["red", "blue", "green", "red"], "size": [1.0, 2.0, 3.0, 0.5]})


def _fit_models(root: Any) -> dict[str, Any]:
    """torch net, ONNX ridge and a string pipeline, each saved in its own directory."""
    import torch
    from skl2onnx import to_onnx
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    import trk.onnx
    import trk.sklearn
    import trk.torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x32 = ROWS.astype(np.float32)
    trk.torch.save_model(net, root / "net", input_example=x32[:2])
    ridge = Ridge().fit(x32, np.array([0.0, 1.0, 2.0], dtype=np.float32))
    proto = to_onnx(ridge, x32[:1], target_opset=17)
    trk.onnx.save_model(proto, root / "ridge", input_example=x32[:2])
    encode = ColumnTransformer([("c", OneHotEncoder(), ["color"])], remainder="passthrough")
    labels = ["warm", "cold", "calm", "warm"]
    pipe = make_pipeline(encode, LogisticRegression()).fit(COLORS, labels)
    trk.sklearn.save_model(
        pipe, root / "colors", input_example=COLORS[:2], serialization_format="cloudpickle"
    )
    with torch.no_grad():
        net_out = net(torch.from_numpy(x32)).numpy()
    return {"net": net_out, "ridge": ridge.predict(x32), "colors": pipe.predict(COLORS)}


@pytest.fixture(scope="module")
def servers(iris_env, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """name -> base URL of a running trk-serve; `expected` holds the in-memory answers."""
    root = tmp_path_factory.mktemp("v2-models")
    answers = _fit_models(root)
    commands = {
        "iris": [
            "--model-uri",
            "models:/iris@champion",
            "--challenger-uri",
            "models:/iris@challenger",
            "--mode",
            "split",
            "--challenger-weight",
            "0",
            "--allow-forced-variant",
        ],
        "net": ["--model-uri", str(root / "net")],
        "ridge": ["--model-uri", str(root / "ridge")],
        "colors": ["--model-uri", str(root / "colors"), "--allow-pickle"],
    }
    procs, urls = [], {}
    for name, args in commands.items():
        port = free_port()
        log = open(root / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        procs.append(
            (
                subprocess.Popen(
                    [TRK_SERVE, "--port", str(port), "--report-interval-s", "3600", *args],
                    env={**os.environ, **iris_env.env},
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                ),
                log,
            )
        )
        urls[name] = f"http://127.0.0.1:{port}"
    try:
        for (proc, _), (name, url) in zip(procs, urls.items(), strict=True):
            _wait_ready(url, proc, root / f"{name}.log")
        yield {"urls": urls, "expected": answers}
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            log.close()


def _wait_ready(url: str, proc: subprocess.Popen, log: Any, timeout: float = 120) -> None:
    """Poll V2 readiness; fail with the server's log if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"trk-serve exited {proc.returncode}: {log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/v2/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout}s: {log.read_text()}")


def client(servers: dict[str, Any], name: str) -> Any:
    return tc.InferenceServerClient(servers["urls"][name].removeprefix("http://"))


def tensor(name: str, arr: np.ndarray, binary: bool = True) -> Any:
    datatype = "BYTES" if arr.dtype == object else tc.np_to_triton_dtype(arr.dtype)
    t = tc.InferInput(name, list(arr.shape), datatype)
    t.set_data_from_numpy(arr, binary_data=binary)
    return t


def test_server_and_model_readiness(servers):
    iris = client(servers, "iris")
    assert iris.is_server_live() and iris.is_server_ready()
    assert iris.is_model_ready("iris") and iris.is_model_ready("iris", "2")
    assert not iris.is_model_ready("nope") and not iris.is_model_ready("iris", "7")
    meta = iris.get_server_metadata()
    assert meta["name"] == "trk" and meta["version"]


def test_metadata_from_the_signature(servers):
    iris = client(servers, "iris").get_model_metadata("iris")
    assert iris["name"] == "iris" and iris["versions"] == ["1", "2"]
    assert iris["platform"] == "sklearn"
    assert iris["inputs"] == [{"name": c, "datatype": "FP64", "shape": [-1]} for c in IRIS_COLUMNS]
    assert [o["name"] for o in iris["outputs"]] == ["predictions"]
    assert client(servers, "iris").get_model_metadata("iris", "2")["versions"] == ["2"]
    net = client(servers, "net").get_model_metadata("net")
    assert net["inputs"] == [{"name": "inputs", "datatype": "FP32", "shape": [-1, 4]}]
    ridge = client(servers, "ridge").get_model_metadata("ridge")
    assert [(i["datatype"], i["shape"]) for i in ridge["inputs"]] == [("FP32", [-1, 4])]
    colors = client(servers, "colors").get_model_metadata("colors")
    assert [(i["name"], i["datatype"]) for i in colors["inputs"]] == [
        ("color", "BYTES"),
        ("size", "FP64"),
    ]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_iris_one_fp64_tensor(servers, iris_env, binary):
    result = client(servers, "iris").infer("iris", [tensor("x", ROWS, binary)], request_id="v2-a")
    np.testing.assert_array_equal(result.as_numpy("predictions"), expected(iris_env.lr, ROWS))
    answer = result.get_response()
    assert (answer["model_name"], answer["model_version"], answer["id"]) == ("iris", "1", "v2-a")
    assert answer["parameters"] == {"variant": "champion"}
    assert answer["outputs"][0]["datatype"] == "INT64" and answer["outputs"][0]["shape"] == [3]


@pytest.mark.parametrize("dtype", [np.float64, np.int64], ids=["FP64", "INT64"])
def test_iris_several_inputs_by_column_name(servers, iris_env, dtype):
    rows = ROWS.round() if dtype is np.int64 else ROWS
    columns = [tensor(c, rows[:, i].astype(dtype)) for i, c in enumerate(IRIS_COLUMNS)]
    result = client(servers, "iris").infer("iris", columns[::-1])  # any order: by name
    np.testing.assert_array_equal(result.as_numpy("predictions"), expected(iris_env.lr, rows))


def test_outputs_filter(servers):
    iris = client(servers, "iris")
    wanted = [tc.InferRequestedOutput("predictions", binary_data=False)]
    result = iris.infer("iris", [tensor("x", ROWS)], outputs=wanted)
    assert [o["name"] for o in result.get_response()["outputs"]] == ["predictions"]
    with pytest.raises(InferenceServerException) as err:
        iris.infer("iris", [tensor("x", ROWS)], outputs=[tc.InferRequestedOutput("nope")])
    assert err.value.status() == "400" and "Unknown output 'nope'" in err.value.message()


def test_a_version_forces_its_variant(servers, iris_env):
    result = client(servers, "iris").infer("iris", [tensor("x", ROWS)], model_version="2")
    np.testing.assert_array_equal(result.as_numpy("predictions"), expected(iris_env.rf, ROWS))
    answer = result.get_response()
    assert answer["model_version"] == "2" and answer["parameters"] == {"variant": "challenger"}


def test_torch_and_onnx_fp32(servers):
    x = ROWS.astype(np.float32)
    net = client(servers, "net").infer("net", [tensor("inputs", x)])
    assert net.get_response()["outputs"][0]["shape"] == [3, 3]
    meta = client(servers, "net").get_model_metadata("net")["outputs"]
    assert meta == [{"name": "predictions", "datatype": "FP32", "shape": [-1, 3]}]
    np.testing.assert_allclose(net.as_numpy("predictions"), servers["expected"]["net"], rtol=1e-5)
    ridge = client(servers, "ridge").infer("ridge", [tensor("X", x)])
    (out,) = ridge.get_response()["outputs"]
    assert out["datatype"] == "FP32"
    meta = client(servers, "ridge").get_model_metadata("ridge")["outputs"]
    assert [(o["name"], o["datatype"]) for o in meta] == [(out["name"], "FP32")]
    got = ridge.as_numpy(out["name"]).reshape(-1)
    np.testing.assert_allclose(got, servers["expected"]["ridge"], rtol=1e-5)


def test_bytes_in_and_out(servers):
    inputs = [
        tensor("color", COLORS["color"].to_numpy(dtype=object)),
        tensor("size", COLORS["size"].to_numpy()),
    ]
    result = client(servers, "colors").infer("colors", inputs)
    assert result.get_response()["outputs"][0]["datatype"] == "BYTES"
    got = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predictions")]
    assert got == list(servers["expected"]["colors"])


def _raises(call: Any, status: str, words: str) -> None:
    with pytest.raises(InferenceServerException) as err:
        call()
    assert err.value.status() == status, err.value.message()
    assert words in err.value.message()


def test_bad_requests_are_clean_4xx_through_the_client(servers):
    iris = client(servers, "iris")
    strings = tensor("x", np.array([["a", "b", "c", "d"]], dtype=object))
    _raises(lambda: iris.infer("iris", [strings]), "400", "expects double")
    bad_shape = tensor("x", ROWS)
    bad_shape.set_shape([2, 4])  # the data holds 3 rows
    _raises(lambda: iris.infer("iris", [bad_shape]), "400", "holds 8 values")
    _raises(lambda: iris.infer("nope", [tensor("x", ROWS)]), "404", "Unknown model 'nope'")
    _raises(lambda: iris.infer("iris", [tensor("x", ROWS)], model_version="9"), "404", "version")
    unknown_type = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]}
    resp = httpx.post(servers["urls"]["iris"] + "/v2/models/iris/infer", json=unknown_type)
    assert resp.status_code == 400 and "FP8" in resp.json()["error"]
    assert iris.infer("iris", [tensor("x", ROWS)]).as_numpy("predictions") is not None


@pytest.mark.parametrize("name", ["iris", "net", "ridge", "colors"])
def test_both_protocols_predict_the_same(servers, name):
    url = servers["urls"][name]
    if name == "colors":
        mlflow_body = {"dataframe_split": COLORS.to_dict(orient="split")}
        inputs = [
            {"name": "color", "shape": [4], "datatype": "BYTES", "data": COLORS["color"].tolist()},
            {"name": "size", "shape": [4], "datatype": "FP64", "data": COLORS["size"].tolist()},
        ]
    else:
        dtype = "FP64" if name == "iris" else "FP32"
        mlflow_body = {"inputs": ROWS.tolist()}
        inputs = [{"name": "x", "shape": [3, 4], "datatype": dtype, "data": ROWS.tolist()}]
    mlflow = httpx.post(url + "/invocations", json=mlflow_body).json()["predictions"]
    v2 = httpx.post(f"{url}/v2/models/{name}/infer", json={"inputs": inputs}).json()
    got = {o["name"]: np.asarray(o["data"]) for o in v2["outputs"]}
    # one output: MLflow answers its values alone (V2 names it); several: both by name
    want = mlflow if isinstance(mlflow, dict) else {next(iter(got)): mlflow}
    assert got.keys() == want.keys()
    for key, values in want.items():
        np.testing.assert_array_equal(got[key], np.ravel(values))


def test_v2_ids_join_feedback_and_requests_are_counted(servers, iris_env):
    url = servers["urls"]["iris"]
    before = metric_value(httpx.get(url + "/metrics").text, "trk_requests_total", status="200")
    # An id of its own: labels are written once in the session's shared store, and
    # test_hardening labels "fb-1" too.
    rid = "v2-fb-1"
    result = client(servers, "iris").infer("iris", [tensor("x", ROWS[:1])], request_id=rid)
    assert result.get_response()["id"] == rid
    label = int(expected(iris_env.lr, ROWS[:1])[0])
    resp = httpx.post(url + "/feedback", json={"request_id": rid, "label": label})
    assert resp.status_code == 200, resp.text
    assert resp.json()["joined"] == 1
    after = metric_value(httpx.get(url + "/metrics").text, "trk_requests_total", status="200")
    assert after == before + 1


def test_parameters_reach_the_model_and_headers_name_the_variant(servers, iris_env):
    body = {
        "id": "proba-1",
        "parameters": {"predict_method": "predict_proba", "binary_data_output": True},
        "inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP64", "data": ROWS.tolist()}],
    }
    resp = httpx.post(servers["urls"]["iris"] + "/v2/models/iris/infer", json=body)
    assert resp.status_code == 200, resp.text
    (out,) = resp.json()["outputs"]
    assert out["datatype"] == "FP64" and out["shape"] == [3, 3]
    want = expected(iris_env.lr, ROWS, "predict_proba")
    np.testing.assert_allclose(np.reshape(out["data"], (3, 3)), want, rtol=1e-9)
    assert resp.headers["X-Request-Id"] == "proba-1" == resp.json()["id"]
    assert (resp.headers["X-Trk-Variant"], resp.headers["X-Trk-Model-Version"]) == ("champion", "1")
