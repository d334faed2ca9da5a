"""What a run read and produced: dataset inputs, logged-model inputs and outputs (MLflow's
`RunInputs` / `RunOutputs`), metrics of logged models, and MLflow's checks on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from trk.exceptions import InvalidParameter

DATASET_CONTEXT_TAG = "mlflow.data.context"  # the tag MLflow's search-datasets reports
# MLflow's limits (mlflow.utils.validation), so what one server accepts the other does too.
_DATASET_LIMITS = {
    "name": 500,
    "digest": 36,
    "source_type": 36,
    "source": 65535,
    "schema": 1048575,
    "profile": 16777215,
}
_TAG_KEY_LIMIT, _TAG_VALUE_LIMIT = 255, 500


@dataclass(frozen=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class DatasetInput:
    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelOutput:
    model_id: str
    step: int = 0


@dataclass
class RunIO:
    """A run's inputs (datasets, logged models read) and outputs (logged models produced)."""

    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    model_outputs: list[ModelOutput] = field(default_factory=list)


@dataclass(frozen=True)
class ModelMetric:
    """One metric value of a logged model, with the run and dataset it came from."""

    key: str
    value: float
    timestamp: int
    step: int
    model_id: str
    run_id: str
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True)
class DatasetSummary:
    experiment_id: str
    name: str
    digest: str
    context: str | None


def check_dataset_inputs(inputs: Sequence[DatasetInput]) -> None:
    """Required fields present and every value within MLflow's limits."""
    for item in inputs:
        d = item.dataset
        for name, limit in _DATASET_LIMITS.items():
            value = getattr(d, name)
            if value is None and name not in ("schema", "profile"):
                raise InvalidParameter(f"Dataset {name} cannot be None")
            if value is not None and len(value) > limit:
                raise InvalidParameter(f"'{name}' exceeds the maximum length of {limit}")
        for key, value in item.tags.items():
            if len(key) > _TAG_KEY_LIMIT:
                raise InvalidParameter(f"'key' exceeds the maximum length of {_TAG_KEY_LIMIT}")
            if len(value) > _TAG_VALUE_LIMIT:
                raise InvalidParameter(f"'value' exceeds the maximum length of {_TAG_VALUE_LIMIT}")
