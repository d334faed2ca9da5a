"""One contract suite run against every flavor: save, log, register, load, predict, refuse."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import trk
import trk.pyfunc
from trk.exceptions import AlreadyExists, IntegrityError, ModelError, SignatureMismatch
from trk.models import input_example
from trk.models.mlmodel import Model

pytestmark = pytest.mark.unit

DATA_FILES = {"sklearn": "model.skops", "torch": "data/model.pt2", "onnx": "model.onnx"}
OTHER = {"sklearn": "onnx", "torch": "sklearn", "onnx": "torch"}


def _assert_same(case, out):
    if case.exact:
        np.testing.assert_array_equal(case.predicted(out), case.reference)
    else:
        np.testing.assert_allclose(case.predicted(out), case.reference, rtol=1e-6, atol=1e-6)


def test_save_load_predict_same_as_in_memory(case, saved):
    model = trk.pyfunc.load_model(str(saved))
    _assert_same(case, model.predict(case.x))
    _assert_same(case, model.predict_array(np.asarray(case.x)))


def test_metadata_requirements_and_input_example(case, saved):
    model = trk.pyfunc.load_model(saved)
    md = model.metadata
    assert md.flavor == case.flavor
    assert md.loader_module == f"trk.{case.flavor}"
    assert md.model_dir == saved and len(md.model_uuid) == 32 and md.utc_time_created
    assert md.signature is not None and len(md.signature.inputs) >= 1
    assert (saved / DATA_FILES[case.flavor]).is_file()
    dist = {"sklearn": "scikit-learn==", "torch": "torch==", "onnx": "onnxruntime=="}
    assert dist[case.flavor] in (saved / "requirements.txt").read_text()
    np.testing.assert_allclose(
        np.asarray(model.input_example(), dtype=float),
        np.asarray(case.x[:2], dtype=float),
        rtol=1e-6,
    )


def test_log_register_and_load_by_alias(case, tracking):
    name = f"iris-{case.flavor}"
    info = case.module.log_model(
        case.model, name="model", registered_model_name=name, input_example=case.x[:2]
    )
    assert info.model_uri == f"models:/{info.model_id}"  # its own logged model, as in MLflow 3
    assert info.registered_model_version == "1"
    assert case.flavor in info.flavors and info.signature is not None
    trk.Client().set_registered_model_alias(name, "champion", "1")
    model = trk.pyfunc.load_model(f"models:/{name}@champion")
    assert model.metadata.run_id == info.run_id
    assert model.metadata.model_uuid == info.model_uuid
    _assert_same(case, model.predict(case.x))
    _assert_same(case, trk.pyfunc.load_model(info.model_uri).predict(case.x))
    _assert_same(case, trk.pyfunc.load_model(f"runs:/{info.run_id}/model").predict(case.x))


@pytest.mark.parametrize("target", ["data", "MLmodel"])
def test_tampered_registered_version_is_refused_naming_the_file(case, tracking, target):
    name = f"tamper-{case.flavor}"
    case.module.log_model(case.model, name="model", registered_model_name=name)
    files = Path(trk.Client().get_model_version_download_uri(name, 1))
    changed = DATA_FILES[case.flavor] if target == "data" else "MLmodel"
    with open(files / changed, "ab") as f:
        f.write(b"\n# edited\n")
    with pytest.raises(IntegrityError, match=changed):
        trk.pyfunc.load_model(f"models:/{name}/1")


def test_truncated_file_is_a_model_error_naming_it(case, saved, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(saved, copy)
    data = copy / DATA_FILES[case.flavor]
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(ModelError, match=data.name):
        trk.pyfunc.load_model(copy)


def test_wrong_column_count_is_a_signature_mismatch(case, saved):
    model = trk.pyfunc.load_model(saved)
    bad = np.asarray(case.x, dtype=np.float32)[:, :3]
    with pytest.raises(SignatureMismatch, match="columns|shape"):
        model.predict(bad)
    with pytest.raises(SignatureMismatch):
        model.predict_array(bad)


def test_other_flavor_load_refuses(case, saved):
    other = getattr(trk, OTHER[case.flavor])
    with pytest.raises(ModelError, match=f"not '{OTHER[case.flavor]}'"):
        other.load_model(saved)


def test_native_load_model(case, saved):
    assert case.module.load_model(saved) is not None


def test_failed_save_leaves_nothing(case, tmp_path, monkeypatch):
    def broken_disk(root, example):
        raise OSError("disk full")

    # Failure injection: a full disk cannot be produced for real here.
    monkeypatch.setattr(input_example, "save_input_example", broken_disk)
    with pytest.raises(OSError, match="disk full"):
        case.module.save_model(case.model, tmp_path / "m", input_example=case.x[:2])
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_existing_directory(case, saved):
    before = Model.load(saved).model_uuid
    with pytest.raises(AlreadyExists):
        case.module.save_model(case.model, saved, input_example=case.x[:2])
    assert Model.load(saved).model_uuid == before
