"""The prediction log's records: what replicas append, what labels carry, what reports read.

One module for the writer (trk-serve), both stores (SQL, REST) and the server, so the JSON
shapes and the canonical forms of classes and labels are written once. A prediction or label
is stored per row of its request: a class as canonical text (so `1`, `1.0`, `"1"` and `True`
all join the same way on every database) and, when numeric, as a float for regressors.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from trk.exceptions import InvalidParameter

MAX_ID = 128  # characters of a request id, model name or variant
MAX_CLASS = 256  # characters of a class or label kept (longer ones are refused)
MAX_ROWS = 10_000  # rows of one request or label
MAX_MS = 2**63  # epoch milliseconds past this fit no BIGINT column
LABELS_PER_CALL = 10_000  # labelled requests per write
LABEL_ROWS_PER_CALL = 100_000  # and their rows
RECORDS_PER_CALL = 10_000  # prediction rows per write


class PredictionRecord(NamedTuple):
    """One row one variant answered: its class (classifiers) or value (regressors).

    A tuple, not a frozen dataclass: the log shipper builds one per row it writes, and a
    frozen dataclass took ~1 us of it to build (each field set through object.__setattr__).
    """

    request_id: str
    row: int
    variant: str
    version: str
    predicted: str | None
    value: float | None
    probability: float  # the chance this variant answered (or shadowed) this request
    timestamp_ms: int

    def to_json(self) -> list[Any]:
        # A list, not an object: a batch of 1000 records is a third the size on the wire.
        return list(self)


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """The ground truth of one row of one request."""

    request_id: str
    row: int
    label: str | None
    value: float | None
    timestamp_ms: int


@dataclass(frozen=True)
class JoinedCounts:
    """Predictions of one (variant, version) joined to labels, summed in SQL."""

    variant: str
    version: str
    logged: int  # rows logged
    labelled: int  # classifier rows with a label
    correct: int
    regression_labelled: int = 0
    abs_error_sum: float = 0.0
    sq_error_sum: float = 0.0
    corrected: int = 0  # labelled rows whose label was corrected (trk ab label --correct)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairedCounts:
    """Shadow mode: labelled rows both versions answered, as McNemar's 2x2 table."""

    champion_version: str
    challenger_version: str
    both_correct: int
    champion_only: int  # champion right, challenger wrong
    challenger_only: int
    neither: int

    @property
    def pairs(self) -> int:
        return self.both_correct + self.champion_only + self.challenger_only + self.neither

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """One labelled row in label order: correct (classifiers) or its error (regressors)."""

    variant: str
    version: str
    labelled_ms: int
    correct: bool | None
    error: float | None

    def to_json(self) -> list[Any]:
        return [self.variant, self.version, self.labelled_ms, self.correct, self.error]


@dataclass(frozen=True)
class PairedOutcome:
    """Shadow mode: one labelled row both versions answered, in label order."""

    champion_version: str
    challenger_version: str
    labelled_ms: int
    champion_correct: bool
    challenger_correct: bool

    def to_json(self) -> list[Any]:
        return [
            self.champion_version,
            self.challenger_version,
            self.labelled_ms,
            self.champion_correct,
            self.challenger_correct,
        ]


@dataclass(frozen=True)
class LabelsWritten:
    """What one label write did, per request id: joined now, held as pending, and the pending
    labels of the model that expired (swept by this call)."""

    joined: int = 0
    pending: int = 0
    expired: int = 0

    @property
    def written(self) -> int:
        return self.joined + self.pending

    def to_json(self) -> dict[str, int]:
        return {**asdict(self), "written": self.written}

    @staticmethod
    def from_json(data: dict[str, Any]) -> LabelsWritten:
        return LabelsWritten(*(int(data.get(k, 0)) for k in ("joined", "pending", "expired")))


def class_key(value: Any) -> str:
    """The canonical text of a class: whole numbers without '.0', bools as 0/1."""
    if isinstance(value, bool):
        return "1" if value else "0"
    number = as_number(value)
    if number is not None:
        return str(int(number)) if number.is_integer() and abs(number) < 2**63 else repr(number)
    if isinstance(value, str):
        return value
    return str(value)


def storable_text(text: str) -> bool:
    """Text every store keeps as sent: UTF-8 without NUL. PostgreSQL's text refuses NUL and
    sqlite's JSON reading cuts a string at one; a lone surrogate is not UTF-8 at all. Either
    would also fail every resend of the batch it is in."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_number(value: Any) -> float | None:
    """A finite float for numbers and numeric text, else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def check_id(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise InvalidParameter(f"{what} must be a non-empty string of at most {MAX_ID} characters")
    if not storable_text(value):
        raise InvalidParameter(f"{what} holds a NUL character or invalid text")
    return value


def check_model(model: Any) -> str:
    return check_id("model", model)


def label_rows(request_id: str, label: Any, at_ms: int) -> list[LabelRecord]:
    """A label (one per row: a scalar, or a list for a request of several rows) as records."""
    values = label if isinstance(label, list) else [label]
    if not values or len(values) > MAX_ROWS:
        raise InvalidParameter(f"Label for {request_id}: 1 to {MAX_ROWS} values, got {len(values)}")
    return [_label(request_id, row, v, at_ms) for row, v in enumerate(values)]


def _label(request_id: str, row: int, value: Any, at_ms: int) -> LabelRecord:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidParameter(f"Label for {request_id} must be finite, got {value!r}")
    if isinstance(value, str) and (not value or len(value) > MAX_CLASS):
        raise InvalidParameter(f"Label for {request_id}: 1 to {MAX_CLASS} characters")
    if isinstance(value, str) and not storable_text(value):
        raise InvalidParameter(f"Label for {request_id} holds a NUL character or invalid text")
    if not isinstance(value, str | int | float):  # bool is an int
        raise InvalidParameter(
            f"Label for {request_id} must be a string, number or bool (or a list of them)"
        )
    return LabelRecord(request_id, row, class_key(value), as_number(value), at_ms)


def parse_labels(items: Any, at_ms: int, limit: int) -> list[LabelRecord]:
    """`[{"request_id", "label"}, ...]` from an untrusted body, every item checked first."""
    if not isinstance(items, list) or not items:
        raise InvalidParameter('labels must be a non-empty list of {"request_id", "label"}')
    if len(items) > limit:
        raise InvalidParameter(f"{len(items)} labels in one call; the limit is {limit}")
    out: list[LabelRecord] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"request_id", "label"} or "label" not in item:
            raise InvalidParameter(f'Label {n} must be an object {{"request_id", "label"}}')
        out += label_rows(
            check_id(f"Label {n}: request_id", item.get("request_id")), item["label"], at_ms
        )
        if len(out) > LABEL_ROWS_PER_CALL:
            raise InvalidParameter(f"More than {LABEL_ROWS_PER_CALL} labelled rows in one call")
    return out


def parse_predictions(items: Any, limit: int) -> list[PredictionRecord]:
    """Records as sent by `PredictionRecord.to_json`, from an untrusted body."""
    if not isinstance(items, list) or len(items) > limit:
        raise InvalidParameter(f"records must be a list of at most {limit} records")
    return [_prediction(n, item) for n, item in enumerate(items)]


def _prediction(n: int, item: Any) -> PredictionRecord:
    bad = InvalidParameter(
        f"Record {n} must be [request_id, row, variant, version, predicted, value, "
        "probability, timestamp_ms]"
    )
    if not isinstance(item, list) or len(item) != 8:
        raise bad
    rid, row, variant, version, predicted, value, probability, ts = item
    if any(isinstance(x, bool) or not isinstance(x, int) for x in (row, ts)):
        raise bad
    if not (0 <= row < MAX_ROWS and 0 <= ts < MAX_MS):
        raise bad
    if predicted is not None and (
        not isinstance(predicted, str) or len(predicted) > MAX_CLASS or not storable_text(predicted)
    ):
        raise bad
    numbers = (value, probability) if value is not None else (probability,)
    if any(isinstance(x, bool) or as_number(x) is None or isinstance(x, str) for x in numbers):
        raise bad
    if not 0.0 <= probability <= 1.0:
        raise bad
    return PredictionRecord(
        check_id(f"Record {n}: request_id", rid),
        row,
        check_id(f"Record {n}: variant", variant),
        check_id(f"Record {n}: version", version),
        predicted,
        None if value is None else float(value),
        float(probability),
        ts,
    )
