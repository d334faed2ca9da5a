"""Convert a loaded sklearn model to ONNX, and prove the conversion predicts the same."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trk.exceptions import ConversionError
from trk.models import schema_enforcement as enforcement
from trk.models.mlmodel import Model
from trk.models.pyfunc import PyFuncModel, load_model

MIN_AGREEMENT = 0.999
SCORE_TOL = 1e-4


def _example_matrix(model: PyFuncModel) -> np.ndarray:
    example = model.input_example()
    if example is None:
        raise ConversionError("ONNX conversion needs a model saved with an input_example")
    inputs = model.metadata.signature.inputs if model.metadata.signature else None
    data = enforcement.enforce(inputs, example) if inputs is not None else example
    return np.asarray(data, dtype=np.float64)


def _random_rows(example: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Rows drawn uniformly within each column's range in the input example."""
    lo, hi = example.min(axis=0), example.max(axis=0)
    span = np.where(hi > lo, hi - lo, np.maximum(np.abs(lo), 1.0))  # constant column: widen
    return np.random.RandomState(seed).uniform(lo, lo + span, size=(n, example.shape[1]))


def _convert(estimator: Any, example: np.ndarray, classifier: bool) -> Any:
    try:
        from skl2onnx import to_onnx
    except ImportError:
        from trk.exceptions import MissingDependency

        raise MissingDependency("ONNX conversion needs skl2onnx: pip install 'trk[onnx]'") from None
    options = {"zipmap": False} if classifier else None
    try:
        return to_onnx(estimator, example[:1].astype(np.float32), options=options)
    except Exception as e:  # skl2onnx raises many types for unsupported estimators
        raise ConversionError(
            f"skl2onnx cannot convert {type(estimator).__name__}: {type(e).__name__}: {e}"
        ) from None


def _compare(
    model: PyFuncModel, converted: PyFuncModel, rows: np.ndarray, proba: bool
) -> dict[str, Any]:
    ours, theirs = model.predict_array(rows), converted.predict_array(rows)
    report: dict[str, Any] = {"rows_checked": len(rows)}
    if model.output_kind == "classifier":
        report["label_agreement"] = float(np.mean(np.asarray(ours) == np.asarray(theirs)))
    if proba or model.output_kind != "classifier":
        params = {"predict_method": "predict_proba"} if proba else None
        a = np.asarray(model.predict_array(rows, params), dtype=np.float64)
        b = np.asarray(converted.predict_array(rows, params), dtype=np.float64).reshape(a.shape)
        report["max_score_diff"] = float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(a))))
    return report


def to_onnx(
    model: PyFuncModel, n_check: int = 1000, path: str | Path | None = None
) -> tuple[Path, dict[str, Any]]:
    """Convert a sklearn PyFuncModel to an ONNX model dir; raise ConversionError if it differs.

    Checks labels on the input example (all equal) and on `n_check` random rows in the
    example's ranges (>= 99.9% equal), and scores (probabilities or regression outputs)
    within 1e-4 relative.
    """
    from trk.models.flavors import onnx as onnx_flavor

    if model.metadata.flavor != "sklearn" or model.needs_dataframe:
        raise ConversionError(
            f"Only sklearn models on numeric columns convert to ONNX (got {model.metadata.flavor})"
        )
    example = _example_matrix(model)
    classifier = model.output_kind == "classifier"
    proba = classifier and hasattr(model.raw_model, "predict_proba")
    proto = _convert(model.raw_model, example, classifier)
    target = Path(path) if path else Path(tempfile.mkdtemp(prefix="trk-onnx-")) / "model"
    onnx_flavor.save_model(
        proto,
        target,
        signature=model.metadata.signature,
        input_example=model.input_example(),
        predict_output="label" if classifier else None,
        proba_output="probabilities" if proba else None,
    )
    converted = load_model(target)
    on_example = _compare(model, converted, example, proba)
    report = _compare(model, converted, _random_rows(example, n_check), proba)
    report["example_label_agreement"] = on_example.get("label_agreement", 1.0)
    _check(report, on_example)
    return target, report


def _check(report: dict[str, Any], on_example: dict[str, Any]) -> None:
    if on_example.get("label_agreement", 1.0) < 1.0:
        raise ConversionError(f"ONNX labels differ on the input example: {report}")
    if report.get("label_agreement", 1.0) < MIN_AGREEMENT:
        raise ConversionError(f"ONNX labels agree on fewer than 99.9% of rows: {report}")
    worst = max(report.get("max_score_diff", 0.0), on_example.get("max_score_diff", 0.0))
    if worst > SCORE_TOL:
        raise ConversionError(f"ONNX scores differ by more than {SCORE_TOL}: {report}")


@dataclass(frozen=True)
class OptimizedVersion:
    """What `trk models optimize` stored: the new version, its run and the agreement found."""

    name: str
    source_version: str
    version: str
    run_id: str
    report: dict[str, Any]


def optimize_version(name: str, version: str, alias: str | None = None) -> OptimizedVersion:
    """Convert `models:/NAME/VERSION` to ONNX and register it as a new version of NAME.

    The conversion is logged as a run (params: source URI; metrics: the agreement figures) in
    the source version's experiment, so the new version has a run like any other. Nothing is
    registered when the check fails. `alias` then points at the new version, e.g.
    `challenger` to shadow it against the champion before it replaces anything.
    """
    import trk
    from trk.models.writer import log_model_dir

    source = f"models:/{name}/{version}"
    onnx_dir, report = to_onnx(load_model(source))
    try:
        client = trk.Client()
        source_run = client.get_model_version(name, version).run_id
        experiment_id = client.get_run(source_run).info.experiment_id if source_run else None

        def copy(path: Path) -> Model:
            shutil.copytree(onnx_dir, path)
            return Model.load(path)

        run_name = f"optimize-{name}-v{version}"
        with trk.start_run(experiment_id=experiment_id, run_name=run_name) as run:
            trk.log_params({"source_model_uri": source, "optimization": "onnx"})
            trk.log_metrics({k: float(v) for k, v in report.items() if isinstance(v, int | float)})
            info = log_model_dir(copy, "model", registered_model_name=name)
    finally:
        shutil.rmtree(onnx_dir.parent, ignore_errors=True)
    new = str(info.registered_model_version)
    client.set_model_version_tag(name, new, "trk.optimized_from", version)
    client.set_model_version_tag(name, new, "trk.optimization", "onnx")
    if alias:
        client.set_registered_model_alias(name, alias, new)
    return OptimizedVersion(name, str(version), new, run.info.run_id, report)
