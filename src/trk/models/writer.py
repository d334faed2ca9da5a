"""Write a model directory atomically, and log one to the active run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trk.exceptions import AlreadyExists
from trk.models.mlmodel import PYFUNC, Model, ModelInfo
from trk.models.signature import ModelSignature

REQUIREMENTS = "requirements.txt"


def pinned(dist: str, version: str) -> str:
    """`dist==version` without a local label (torch's `+cpu`), so pip can install it."""
    return f"{dist}=={version.split('+')[0]}"


def save_model_dir(
    path: str | Path,
    *,
    flavor: str,
    loader_module: str,
    write_data: Callable[[Path], dict[str, Any]],
    signature: ModelSignature | None = None,
    input_example: Any = None,
    requirements: list[str] | None = None,
    pyfunc_conf: dict[str, Any] | None = None,
    reference_data: Any = None,
) -> Model:
    """Write data files, example, requirements and MLmodel in a temp dir, then move it to path.

    `write_data(tmp_dir)` writes the flavor's files and returns its MLmodel flavor entry;
    `reference_data` (the training inputs) becomes `reference_profile.json` for drift.
    A failure at any step leaves nothing at `path`.
    """
    path = Path(path).absolute()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise AlreadyExists(f"Cannot save a model to {path}: the path already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        mlmodel = _write_into(
            tmp, flavor, loader_module, write_data, signature, input_example, requirements
        )
        mlmodel.flavors[PYFUNC].update(pyfunc_conf or {})
        if reference_data is not None:
            _write_profile(tmp, reference_data, signature)
        mlmodel.save(tmp)
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    mlmodel.model_dir = path
    return mlmodel


def _write_into(
    tmp: Path,
    flavor: str,
    loader_module: str,
    write_data: Callable[[Path], dict[str, Any]],
    signature: ModelSignature | None,
    input_example: Any,
    requirements: list[str] | None,
) -> Model:
    flavor_conf = write_data(tmp)
    mlmodel = Model(signature=signature)
    if input_example is not None:
        # imported here: it needs pandas, which loading a tensor model (ONNX, torch) never does
        from trk.models.input_example import save_input_example

        mlmodel.saved_input_example_info = save_input_example(tmp, input_example)
    (tmp / REQUIREMENTS).write_text("".join(f"{r}\n" for r in requirements or []))
    mlmodel.add_flavor(PYFUNC, loader_module=loader_module, trk_flavor=flavor)
    mlmodel.flavors.setdefault(flavor, {}).update(flavor_conf)
    return mlmodel


def _write_profile(tmp: Path, data: Any, signature: ModelSignature | None) -> None:
    from trk.models.profile import build_profile, save_profile

    names = None
    if signature is not None and signature.inputs.has_input_names():
        names = signature.inputs.input_names()
    save_profile(tmp, build_profile(data, names))


def log_model_dir(
    save: Callable[[Path], Model], name: str, registered_model_name: str | None = None
) -> ModelInfo:
    """Save with `save(path)`, upload it as a new logged model of the active run, maybe register.

    As in MLflow 3, every call is its own logged model (id, location, `models:/m-<id>`), so
    two models logged under one name in one run never share files.
    """
    import trk
    from trk.tracking.fluent import _client

    with tempfile.TemporaryDirectory(prefix="trk-model-") as tmp:
        local = Path(tmp) / "model"
        mlmodel = save(local)  # a missing library fails here, before the store is touched
        run = trk.active_run() or trk.start_run()
        if run.muted:  # not rank 0: the model was built, and is stored nowhere
            return ModelInfo(
                "",
                "",
                name,
                mlmodel.signature,
                mlmodel.flavors,
                mlmodel.model_uuid,
                mlmodel.utc_time_created,
            )
        client = _client()
        run_id = run.info.run_id
        logged = client.create_logged_model(
            run.info.experiment_id, name, source_run_id=run_id, model_type=mlmodel.flavor
        )
        mlmodel.run_id, mlmodel.artifact_path = run_id, name
        mlmodel.model_id = logged.model_id
        mlmodel.save(local)
        try:
            client.log_model_artifacts(logged.model_id, local)
        except BaseException:
            client.finalize_logged_model(logged.model_id, "LOGGED_MODEL_UPLOAD_FAILED")
            raise
    client.finalize_logged_model(logged.model_id, "LOGGED_MODEL_READY")
    model_uri = f"models:/{logged.model_id}"
    version = None
    if registered_model_name:
        version = trk.register_model(model_uri, registered_model_name).version
    return ModelInfo(
        model_uri=model_uri,
        run_id=run_id,
        artifact_path=name,
        signature=mlmodel.signature,
        flavors=mlmodel.flavors,
        model_uuid=mlmodel.model_uuid,
        utc_time_created=mlmodel.utc_time_created,
        saved_input_example_info=mlmodel.saved_input_example_info,
        registered_model_version=version,
        model_id=logged.model_id,
    )
