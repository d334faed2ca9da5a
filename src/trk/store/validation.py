"""Input checks shared by the stores: names, values and limits as MLflow enforces them."""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence

from trk.entities import Metric, Param, RunTag
from trk.exceptions import InvalidParameter

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 256
MAX_ALIAS_LENGTH = 255
MAX_RESULTS = 50000
# MLflow's batch limits (mlflow/utils/validation.py), with its wording.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000

_KEY_RE = re.compile(r"^[/\w.\- ]+$")
_ALIAS_RE = re.compile(r"^[\w\-]+$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")


def check_key(key: object, what: str) -> str:
    """A param/tag/metric key: alphanumerics, `_-./ `, no `..` segment or leading `/`."""
    if not isinstance(key, str) or not key:
        raise InvalidParameter(f"{what} key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameter(f"{what} key {key[:40]!r}... longer than {MAX_KEY_LENGTH} chars")
    if not _KEY_RE.match(key) or key.startswith("/") or ".." in key.split("/"):
        raise InvalidParameter(
            f"Invalid {what.lower()} key {key!r}: use alphanumerics, '_', '-', '.', ' ', '/' "
            "without a leading '/' or '..'"
        )
    return key


def check_metric(metric: Metric) -> None:
    """A number (NaN and +-inf too, as MLflow accepts them); strings and None are refused."""
    check_key(metric.key, "Metric")
    value = metric.value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameter(f"Metric {metric.key!r} value must be a number, got {value!r}")
    for field in ("timestamp", "step"):
        got = getattr(metric, field)
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            raise InvalidParameter(f"Metric {metric.key!r} {field} must be an integer, got {got!r}")


def check_param(param: Param) -> None:
    """A valid key and a string value of at most 6000 characters."""
    check_key(param.key, "Param")
    if not isinstance(param.value, str):
        raise InvalidParameter(f"Param {param.key!r} value must be a string")
    if len(param.value) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidParameter(
            f"Param {param.key!r} value is {len(param.value)} chars, "
            f"the limit is {MAX_PARAM_VALUE_LENGTH}"
        )


def check_tag(tag: RunTag) -> None:
    """A valid key and a string value of at most 8000 characters."""
    check_key(tag.key, "Tag")
    if not isinstance(tag.value, str):
        raise InvalidParameter(f"Tag {tag.key!r} value must be a string")
    if len(tag.value) > MAX_TAG_VALUE_LENGTH:
        raise InvalidParameter(f"Tag {tag.key!r} value longer than {MAX_TAG_VALUE_LENGTH} chars")


def _check_batch_limit(what: str, limit: int, length: int) -> None:
    if length > limit:
        raise InvalidParameter(
            f"A batch logging request can contain at most {limit} {what}. Got {length} "
            f"{what}. Please split up {what} across multiple requests and try again."
        )


def check_batch_limits(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> None:
    """MLflow's limits: 1,000 metrics, 100 params, 100 tags, 1,000 entries in all."""
    _check_batch_limit("metrics", MAX_METRICS_PER_BATCH, len(metrics))
    _check_batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, len(params))
    _check_batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags))
    total = len(metrics) + len(params) + len(tags)
    _check_batch_limit("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, total)


def check_batch(metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> None:
    """Every entry of a batch, before anything is written; also a key given two values."""
    check_batch_limits(metrics, params, tags)
    for metric in metrics:
        check_metric(metric)
    seen: dict[str, str] = {}
    for param in params:
        check_param(param)
        if seen.setdefault(param.key, param.value) != param.value:
            raise InvalidParameter(
                f"Param {param.key!r} given twice in one batch with different values: "
                f"{seen[param.key]!r} and {param.value!r}"
            )
    for tag in tags:
        check_tag(tag)


def check_name(name: object, what: str) -> str:
    """An experiment or registered model name: a non-empty string of sane length."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(f"{what} name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"{what} name longer than {MAX_NAME_LENGTH} chars: {name[:40]!r}")
    return name


def check_model_name(name: object) -> str:
    """A registered model name; '/' and '@' would make `models:/` URIs ambiguous."""
    check_name(name, "Registered model")
    assert isinstance(name, str)
    if "/" in name or "@" in name:
        raise InvalidParameter(f"Registered model name {name!r} must not contain '/' or '@'")
    return name


def check_alias(alias: object) -> str:
    """An alias: `^[\\w-]+$`, at most 255 chars, not `latest`, not `v<digits>`."""
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise InvalidParameter(f"Invalid alias {alias!r}: use letters, digits, '_' and '-'")
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameter(f"Alias {alias[:40]!r}... longer than {MAX_ALIAS_LENGTH} chars")
    if alias.lower() == "latest" or _VERSION_ALIAS_RE.match(alias):
        raise InvalidParameter(f"Alias {alias!r} is reserved (it reads as a version reference)")
    return alias


def check_version(version: object) -> int:
    """A model version number, given as int or digit string."""
    text = str(version).strip()
    if not text.isdigit() or int(text) < 1:
        raise InvalidParameter(f"Parameter 'version' must be an integer, got {version!r}.")
    return int(text)


def check_max_results(max_results: object, limit: int = MAX_RESULTS) -> int:
    """1 <= max_results <= limit."""
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise InvalidParameter(f"max_results must be an integer, got {max_results!r}")
    if not 1 <= max_results <= limit:
        raise InvalidParameter(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            f"It must be between 1 and {limit}"
        )
    return max_results


_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")


def check_model_id(model_id: object) -> str:
    """A logged model id as trk and MLflow 3 make them: `m-` and 32 hex digits."""
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
        raise InvalidParameter(f"Invalid logged model id {model_id!r}: expected m-<32 hex>")
    return model_id
