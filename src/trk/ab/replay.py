"""`trk ab replay`: a serving run's logged samples answered again by another model."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from trk.exceptions import InvalidParameter, NotFound
from trk.serving_contract import SERVING_TAG, serving_experiment

if TYPE_CHECKING:
    from trk.tracking.client import Client


@dataclass
class ReplayResult:
    run_id: str
    challenger_uri: str
    samples: int = 0
    errors: int = 0
    # variant recorded in the samples -> (compared, agreed) with the new model's answers
    agreement: dict[str, list[int]] = field(default_factory=dict)
    mean_abs_difference: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode_input(encoded: dict[str, Any]) -> Any:
    """The inverse of `trk.serving.online.samples.encode_input`."""
    if "dataframe_split" in encoded:
        import pandas as pd

        split = encoded["dataframe_split"]
        return pd.DataFrame(split["data"], columns=split["columns"])
    inputs = encoded.get("inputs")
    if isinstance(inputs, dict):
        return {k: np.asarray(v) for k, v in inputs.items()}
    return np.asarray(inputs)


def read_samples(client: Client, run_id: str) -> list[dict[str, Any]]:
    """Every sample line of the run's `samples/` artifacts."""
    names = [f.path for f in client.list_artifacts(run_id, "samples") if not f.is_dir]
    if not names:
        raise NotFound(
            f"Run {run_id} has no samples/ artifacts (serve with --log-samples FRACTION)"
        )
    lines: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="trk-replay-") as tmp:
        for name in names:
            local = Path(client.download_artifacts(run_id, name, tmp))
            lines += [orjson.loads(x) for x in local.read_bytes().splitlines() if x.strip()]
    return lines


def replay(client: Client, model: str, run_id: str, challenger_uri: str) -> ReplayResult:
    """Predict every sample with the challenger and compare with the recorded answers."""
    from trk.models.pyfunc import load_model

    run = client.get_run(run_id)
    exp = client.get_experiment(run.info.experiment_id)
    uri = run.data.params.get("model_uri", "")
    ours = exp.name == serving_experiment(model) or uri.startswith(
        (f"models:/{model}@", f"models:/{model}/")
    )
    if run.data.tags.get(SERVING_TAG) != "true" or not ours:
        raise InvalidParameter(f"Run {run_id} is not a serving run of model {model!r}")
    samples = read_samples(client, run_id)
    new = load_model(challenger_uri, store=client.store)  # this client's registry, digest checked
    result = ReplayResult(run_id, challenger_uri)
    diffs: dict[str, list[float]] = {}
    for sample in samples:
        result.samples += 1
        try:
            answer = np.asarray(new.predict(decode_input(sample["input"]), sample.get("params")))
        except Exception:
            result.errors += 1
            continue
        for variant, recorded in sample["answers"].items():
            if isinstance(recorded, dict):  # that variant failed when the sample was taken
                continue
            old = np.asarray(recorded)
            counts = result.agreement.setdefault(variant, [0, 0])
            counts[0] += int(old.size)
            if answer.dtype.kind in "fc" and old.dtype.kind in "fc":
                counts[1] += int(np.isclose(answer.ravel(), old.ravel(), rtol=1e-3).sum())
                diffs.setdefault(variant, []).extend(np.abs(answer.ravel() - old.ravel()))
            else:
                counts[1] += int((answer.ravel().astype(str) == old.ravel().astype(str)).sum())
    result.mean_abs_difference = {v: float(np.mean(d)) for v, d in diffs.items()}
    return result


def render_replay(result: ReplayResult) -> str:
    """A few lines for people."""
    lines = [
        f"replayed {result.samples} samples of run {result.run_id} against "
        f"{result.challenger_uri} ({result.errors} failed)"
    ]
    for variant, (compared, agreed) in sorted(result.agreement.items()):
        share = agreed / compared if compared else 0.0
        extra = result.mean_abs_difference.get(variant)
        mad = f", mean |difference| {extra:.4g}" if extra is not None else ""
        lines.append(
            f"  agrees with the recorded {variant}: {agreed}/{compared} = {share:.1%}{mad}"
        )
    return "\n".join(lines)
