"""Model integrity on a real sqlite store and real files: logged models stored apart,
registered versions pinned by digest, and a loading policy no model file can talk its way past."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import yaml

import trk
import trk.pyfunc
import trk.sklearn
from trk.exceptions import IntegrityError, ModelError


class _WritesMarker:
    """Unpickling this runs a shell command: what an attacker would put in model.pkl."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _fit(X, y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    return LogisticRegression(max_iter=300).fit(X, y), DecisionTreeClassifier().fit(X, 2 - y)


def _edit_mlmodel(model_dir: Path, **sklearn_conf) -> None:
    path = model_dir / "MLmodel"
    data = yaml.safe_load(path.read_text())
    data["flavors"]["sklearn"].update(sklearn_conf)
    path.write_text(yaml.safe_dump(data))


def _files(name: str, version: int) -> Path:
    return Path(trk.Client().get_model_version_download_uri(name, version))


def test_two_models_under_one_name_in_one_run_keep_their_own_predictions(tracking, iris_frame):
    X, y = iris_frame
    first, second = _fit(X, y)
    with trk.start_run() as run:
        a = trk.sklearn.log_model(first, "model", registered_model_name="iris")
        b = trk.sklearn.log_model(second, "model", registered_model_name="iris")
    assert a.model_id != b.model_id and a.model_uri == f"models:/{a.model_id}"
    client = trk.Client()
    v1, v2 = client.get_model_version("iris", 1), client.get_model_version("iris", 2)
    assert (v1.source, v1.model_id) == (f"models:/{a.model_id}", a.model_id)
    assert v1.digest.startswith("sha256:") and "MLmodel" in v1.manifest
    assert v1.digest != v2.digest
    np.testing.assert_array_equal(
        trk.pyfunc.load_model("models:/iris/1").predict(X), first.predict(X)
    )
    np.testing.assert_array_equal(
        trk.pyfunc.load_model("models:/iris/2").predict(X), second.predict(X)
    )
    np.testing.assert_array_equal(
        trk.pyfunc.load_model(f"models:/{a.model_id}").predict(X), first.predict(X)
    )
    # runs:/RUN/NAME names the newest model logged under NAME in the run, as in MLflow 3.
    latest = trk.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(latest.predict(X), second.predict(X))
    logged = client.get_logged_model(a.model_id)
    assert (logged.source_run_id, logged.status) == (run.info.run_id, "LOGGED_MODEL_READY")


def test_format_swapped_to_cloudpickle_never_runs_the_pickle(tracking, iris_frame, tmp_path):
    X, y = iris_frame
    trk.sklearn.log_model(_fit(X, y)[0], "model", registered_model_name="swap")
    files = _files("swap", 1)
    marker = tmp_path / "pwned"
    (files / "evil.pkl").write_bytes(cloudpickle.dumps(_WritesMarker(marker)))
    _edit_mlmodel(files, serialization_format="cloudpickle", pickled_model="evil.pkl")
    with pytest.raises(IntegrityError, match="MLmodel"):
        trk.pyfunc.load_model("models:/swap/1")
    with pytest.raises(ModelError, match="runs code when loaded"):
        trk.pyfunc.load_model(files)  # the same files from a path: nothing vouches for them
    assert not marker.exists()


def test_absolute_pickled_model_is_refused_even_when_pickle_is_allowed(tmp_path, iris_frame):
    X, y = iris_frame
    trk.sklearn.save_model(_fit(X, y)[0], tmp_path / "m", serialization_format="cloudpickle")
    marker = tmp_path / "pwned"
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(cloudpickle.dumps(_WritesMarker(marker)))
    for ref in (str(outside), "../outside.pkl"):
        _edit_mlmodel(tmp_path / "m", pickled_model=ref)
        with pytest.raises(ModelError, match="outside the model directory"):
            trk.pyfunc.load_model(tmp_path / "m", allow_pickle=True)
    assert not marker.exists()


def test_skops_types_naming_posix_system_are_refused(tmp_path, iris_frame):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = iris_frame
    evil = make_pipeline(FunctionTransformer(os.system), _fit(X, y)[0])
    trk.sklearn.save_model(evil, tmp_path / "m")
    # Even an MLmodel claiming posix as the model's own module, with pickle allowed.
    _edit_mlmodel(tmp_path / "m", estimator_modules=["posix", "os"])
    with pytest.raises(ModelError, match=r"'(posix|os)\.system'"):
        trk.pyfunc.load_model(tmp_path / "m", allow_pickle=True)


def test_numpy_functions_in_a_pipeline_load_and_record_no_own_modules(tracking, iris_frame):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = iris_frame
    X = X.to_numpy()
    model = make_pipeline(FunctionTransformer(np.log1p), _fit(X, y)[0])
    trk.sklearn.log_model(model, "model", registered_model_name="own")  # numpy only: loads
    assert trk.pyfunc.load_model("models:/own/1").predict(X).shape == (len(X),)
    conf = yaml.safe_load((_files("own", 1) / "MLmodel").read_text())["flavors"]["sklearn"]
    assert conf["estimator_modules"] == []


def test_registry_pin_survives_a_copy_of_the_files_elsewhere(tracking, iris_frame, tmp_path):
    """Registering a path pins it too; a later edit there is caught by the registry digest."""
    X, y = iris_frame
    trk.sklearn.save_model(_fit(X, y)[0], tmp_path / "m", serialization_format="cloudpickle")
    trk.Client().create_model_version("path-model", str(tmp_path / "m"))
    model = trk.pyfunc.load_model("models:/path-model/1")  # pinned: the pickle may load
    np.testing.assert_array_equal(model.predict(X), _fit(X, y)[0].predict(X))
    (tmp_path / "m" / "extra.txt").write_text("added later")
    with pytest.raises(IntegrityError, match="extra.txt"):
        trk.pyfunc.load_model("models:/path-model/1")


MISSING_SKOPS = textwrap.dedent(
    """
    import sys, importlib.abc

    class NoSkops(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "skops" or name.startswith("skops."):
                raise ModuleNotFoundError(f"No module named {name!r}")

    sys.meta_path.insert(0, NoSkops())
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import trk, trk.sklearn
    from trk.exceptions import MissingDependency

    model = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    try:
        trk.sklearn.log_model(model, "model")
    except MissingDependency as exc:
        print(exc.message)
    """
)


def test_missing_skops_is_one_line_naming_the_extra_and_writes_nothing(tmp_path):
    # skops is installed here; a meta-path finder that refuses it stands in for an
    # environment without it (a second virtualenv would cost minutes of installs).
    env = {**os.environ, "TRK_TRACKING_URI": f"sqlite:///{tmp_path / 'trk.db'}"}
    out = subprocess.run(
        [sys.executable, "-c", MISSING_SKOPS],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines() == [
        "skops serialization needs skops: pip install 'trk[sklearn]'"
    ]
    assert not (tmp_path / "trk.db").exists()  # nothing reached the store
