"""trk-serve answers like `mlflow models serve` on the same MLflow-saved model directories.

The sklearn model is compared against a real `mlflow models serve` process. For torch and
onnx the MLflow side is MLflow's own scoring function (`scoring_server.invocations`, what its
server calls per request) in this process: starting two more MLflow servers would cost about
a minute of the suite for the same answers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from serving_helpers import IRIS_COLUMNS, ThreadServer, wait_for

from uvicorn_thread import free_port

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed: no reference to compare")

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
# Named, not inferred (inferring loads each model again, seconds each); `--env-manager local`
# below never installs them.
REQS = {"pip_requirements": ["scikit-learn"]}
RECORDS = [dict(zip(IRIS_COLUMNS, r, strict=True)) for r in ROWS]
SKLEARN_FORMS = {
    "split": {"dataframe_split": {"columns": IRIS_COLUMNS, "data": ROWS}},
    "records": {"dataframe_records": RECORDS},
    "instances_records": {"instances": RECORDS},
    "inputs_columns": {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(IRIS_COLUMNS)}},
}


def _trk_server(model_dir: Path) -> ThreadServer:
    from trk.serving.config import ServeSettings
    from trk.serving.http.app import create_app

    # MLflow pickles, served from a bare path: the test vouches for the files it just wrote.
    # Its serving runs go beside the model, not to ./trk.db in the working directory.
    tracking_uri = f"sqlite:///{model_dir.parent / 'serving.db'}"
    settings = ServeSettings(model_uri=str(model_dir), allow_pickle=True, tracking_uri=tracking_uri)
    return ThreadServer(create_app(settings)).start()


@pytest.fixture(scope="module")
def sklearn_pair(tmp_path_factory):
    """(trk URL, mlflow URL) serving one MLflow-saved iris logistic regression."""
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris(as_frame=True)
    model = LogisticRegression(max_iter=300).fit(iris.data, iris.target)
    model_dir = tmp_path_factory.mktemp("mlflow-sklearn") / "model"
    mlflow.sklearn.save_model(
        model,
        model_dir,
        input_example=iris.data.iloc[:2],
        serialization_format="cloudpickle",
        **REQS,
    )
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    mlflow_bin = str(Path(bin_dir) / "mlflow")
    proc = subprocess.Popen(
        [
            mlflow_bin,
            "models",
            "serve",
            "-m",
            str(model_dir),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # mlflow starts uvicorn as a child: stop the whole group
    )
    trk = _trk_server(model_dir)
    try:
        wait_for(f"http://127.0.0.1:{port}", "/ping", timeout=180, proc=proc)
        yield trk.url, f"http://127.0.0.1:{port}"
    finally:
        trk.stop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        proc.stderr.close()


def _both(urls, body=None, content=None, ctype="application/json"):
    out = []
    for url in urls:
        kw = {"json": body} if body is not None else {"content": content}
        out.append(
            httpx.post(url + "/invocations", headers={"Content-Type": ctype}, timeout=60, **kw)
        )
    return out


@pytest.mark.parametrize("form", sorted(SKLEARN_FORMS))
def test_sklearn_json_forms_match_mlflow(sklearn_pair, form):
    ours, theirs = _both(sklearn_pair, SKLEARN_FORMS[form])
    assert theirs.status_code == 200, theirs.text
    assert ours.status_code == 200, ours.text
    assert ours.json().keys() == theirs.json().keys() == {"predictions"}
    np.testing.assert_allclose(ours.json()["predictions"], theirs.json()["predictions"], rtol=1e-9)


def test_sklearn_csv_matches_mlflow(sklearn_pair):
    text = ",".join(IRIS_COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS)
    ours, theirs = _both(sklearn_pair, content=text.encode(), ctype="text/csv")
    assert ours.status_code == theirs.status_code == 200
    assert ours.json() == theirs.json()


def test_positional_rows_mlflow_refuses_trk_accepts(sklearn_pair):
    """docs/serving.md's "better than MLflow" rule: rows in the signature's column order."""
    ours, theirs = _both(sklearn_pair, {"inputs": ROWS})
    assert theirs.status_code == 400
    assert ours.status_code == 200
    split, _ = _both(sklearn_pair, SKLEARN_FORMS["split"])
    assert ours.json() == split.json()


def test_no_content_type_is_a_4xx_here(sklearn_pair):
    """MLflow answers a request without Content-Type with a 500; trk says what is missing."""
    ours = httpx.post(sklearn_pair[0] + "/invocations", content=b'{"inputs": [[1, 2, 3, 4]]}')
    assert ours.status_code == 415 and ours.json()["error_code"] == "BAD_REQUEST"


def _mlflow_answer(model_dir: Path, body: bytes) -> object:
    """What MLflow's scoring server answers for `body`, computed in-process."""
    import json

    from mlflow.pyfunc import scoring_server

    model = mlflow.pyfunc.load_model(str(model_dir))
    schema = model.metadata.get_input_schema()
    resp = scoring_server.invocations(body, "application/json", model, schema)
    assert resp.status == 200, resp.response
    return json.loads(resp.response)


def _assert_same(ours: object, theirs: object) -> None:
    assert type(ours) is type(theirs), (ours, theirs)
    if isinstance(ours, dict):
        assert ours.keys() == theirs.keys()
        for k in ours:
            _assert_same(ours[k], theirs[k])
    else:
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-6)


def test_torch_answers_match_mlflow(tmp_path):
    torch = pytest.importorskip("torch")
    import mlflow.pytorch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    example = np.array(ROWS, dtype=np.float32)
    model_dir = tmp_path / "torch"
    mlflow.pytorch.save_model(net, model_dir, input_example=example, **REQS)
    server = _trk_server(model_dir)
    try:
        for body in ({"inputs": ROWS}, {"instances": ROWS}):
            raw = httpx.post(server.url + "/invocations", json=body, timeout=60)
            assert raw.status_code == 200, raw.text
            import json

            _assert_same(raw.json(), _mlflow_answer(model_dir, json.dumps(body).encode()))
    finally:
        server.stop()


def test_onnx_answers_match_mlflow(tmp_path):
    pytest.importorskip("onnxruntime")
    import json

    import mlflow.onnx
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    lr = LogisticRegression(max_iter=300).fit(x.astype(np.float32), y)
    onx = to_onnx(lr, x[:1].astype(np.float32), options={id(lr): {"zipmap": False}})
    model_dir = tmp_path / "onnx"
    mlflow.onnx.save_model(onx, model_dir, input_example=np.array(ROWS, dtype=np.float32), **REQS)
    server = _trk_server(model_dir)
    try:
        body = {"inputs": ROWS}
        raw = httpx.post(server.url + "/invocations", json=body, timeout=60)
        assert raw.status_code == 200, raw.text
        _assert_same(raw.json(), _mlflow_answer(model_dir, json.dumps(body).encode()))
    finally:
        server.stop()
