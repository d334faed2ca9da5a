"""`ServeSettings`: every knob of `trk-serve`, from flags, `TRK_*` variables or a YAML file."""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trk.ab.windows import parse_duration
from trk.exceptions import InvalidParameter
from trk.serving_contract import MODES

OPTIMIZERS = (None, "onnx")
MIN_TOKEN = 16


@dataclass
class ServeSettings:
    """One serving process's configuration; validated once, then passed down read-only."""

    model_uri: str = ""
    challenger_uri: str | None = None
    mode: str = "single"
    challenger_weight: float = 0.1
    shadow_sample: float = 1.0
    sticky_header: str | None = None
    allow_forced_variant: bool = False
    reload_interval_s: float = 10.0
    allow_signature_mismatch: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    tracking_uri: str | None = None
    max_body_mb: float = 16.0
    timeout_s: float = 30.0
    graceful_timeout_s: float = 30.0
    breaker_timeouts: int = 3
    breaker_cooldown_s: float = 30.0
    max_batch_size: int | None = None
    max_batch_delay_ms: float = 2.0
    optimize: str | None = None
    allow_pickle: bool = False
    report_interval_s: float = 30.0
    experiment: str | None = None
    log_samples: float = 0.0
    feedback_capacity: int = 100_000
    prediction_log: bool = True
    prediction_retention: str = "14d"
    log_shipper_socket: str | None = None
    log_max_backlog: int = 1_000_000
    log_degraded_backlog: int = 10_000
    feedback_token: str | None = field(default=None, repr=False)
    insecure_open_feedback: bool = False
    capture_uri: str | None = None
    capture_sample: float = 1.0
    capture_flush_s: float = 60.0
    capture_columns_drop: str | None = None
    capture_inputs: bool = True
    capture_spool_dir: str | None = None
    capture_spool_mb: float = 1024.0

    def __post_init__(self) -> None:
        self.validate()

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def prediction_retention_s(self) -> float:
        return parse_duration(self.prediction_retention, "--prediction-retention")

    def capture(self) -> Any:
        """The capture's CaptureConfig (trk.capture.config), or None without --capture-uri."""
        if not self.capture_uri:
            return None
        from trk.capture.config import CaptureConfig, parse_columns

        config = CaptureConfig(
            self.capture_uri,
            self.capture_flush_s,
            sample=self.capture_sample,
            drop_columns=parse_columns(self.capture_columns_drop),
            inputs=self.capture_inputs,
            spool_mb=self.capture_spool_mb,
        )
        if self.capture_spool_dir:
            config = dataclasses.replace(config, spool_dir=Path(self.capture_spool_dir))
        return config

    @property
    def batching(self) -> bool:
        """Adaptive batching is on only when a batch size above one is asked for."""
        return self.max_batch_size is not None and self.max_batch_size > 1

    def validate(self) -> None:
        """Raise InvalidParameter with one line naming the first bad value."""
        if not self.model_uri:
            _bad("--model-uri is required (or TRK_MODEL_URI, or model_uri in --config)")
        if self.mode not in MODES:
            _bad(f"--mode {self.mode!r} is unknown; use one of {', '.join(MODES)}")
        if self.challenger_uri and self.mode == "single":
            _bad("--challenger-uri needs --mode shadow or --mode split")
        if self.mode != "single" and not self.challenger_uri:
            _bad(f"--mode {self.mode} needs --challenger-uri")
        _unit("--challenger-weight", self.challenger_weight)
        _unit("--shadow-sample", self.shadow_sample)
        _unit("--log-samples", self.log_samples)
        _positive("--timeout-s", self.timeout_s)
        _positive("--graceful-timeout-s", self.graceful_timeout_s)
        _positive("--breaker-cooldown-s", self.breaker_cooldown_s)
        if self.breaker_timeouts < 1:
            _bad(f"--breaker-timeouts must be at least 1, got {self.breaker_timeouts}")
        _positive("--max-body-mb", self.max_body_mb)
        _positive("--reload-interval-s", self.reload_interval_s)
        _positive("--report-interval-s", self.report_interval_s)
        if self.workers < 1:
            _bad(f"--workers must be at least 1, got {self.workers}")
        if not 0 <= self.port <= 65535:
            _bad(f"--port must be within 0..65535, got {self.port}")
        if self.max_batch_size is not None and self.max_batch_size < 1:
            _bad(f"--max-batch-size must be at least 1, got {self.max_batch_size}")
        if self.max_batch_delay_ms < 0:
            _bad(f"--max-batch-delay-ms must be >= 0, got {self.max_batch_delay_ms}")
        if self.optimize not in OPTIMIZERS:
            _bad(f"--optimize {self.optimize!r} is unknown; use onnx or leave it out")
        parse_duration(self.prediction_retention, "--prediction-retention")
        if self.feedback_token is not None and len(self.feedback_token.strip()) < MIN_TOKEN:
            _bad(
                f"--feedback-token must be at least {MIN_TOKEN} characters (a guessable token is no lock)"
            )
        if self.log_max_backlog < 1 or self.log_degraded_backlog < 1:
            _bad("--log-max-backlog and --log-degraded-backlog must be at least 1")
        if (
            self.feedback_token is None
            and not self.insecure_open_feedback
            and not _loopback(self.host)
        ):
            _bad(
                f"Refusing to serve /feedback on {self.host} without a token: labels decide "
                "rollouts. Set TRK_FEEDBACK_TOKEN or --feedback-token-file, or pass "
                "--insecure-open-feedback if every client on that network may label"
            )
        if self.feedback_capacity < 1:
            _bad(f"--feedback-capacity must be at least 1, got {self.feedback_capacity}")
        _unit("--capture-sample", self.capture_sample)
        _positive("--capture-flush-s", self.capture_flush_s)
        _positive("--capture-spool-mb", self.capture_spool_mb)

    def replace(self, **changes: Any) -> ServeSettings:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _loopback(host: str) -> bool:
    """`localhost` or a loopback address (127.0.0.0/8, ::1): only this machine can call."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bad(message: str) -> None:
    raise InvalidParameter(message)


def _unit(flag: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        _bad(f"{flag} must be within [0, 1], got {value}")


def _positive(flag: str, value: float) -> None:
    if not value > 0:
        _bad(f"{flag} must be greater than 0, got {value}")


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(ServeSettings)]


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML file of ServeSettings fields (`model_uri` or `model-uri` both work)."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise InvalidParameter(f"Cannot read --config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidParameter(f"--config {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidParameter(f"--config {path} must be a mapping of settings")
    known = set(field_names())
    values = {str(k).replace("-", "_"): v for k, v in raw.items()}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidParameter(
            f"--config {path}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return values


def build_settings(file_values: dict[str, Any], given: dict[str, Any]) -> ServeSettings:
    """File values first, then flags and variables that were given on top."""
    merged = {**file_values, **given}
    try:
        return ServeSettings(**merged)
    except TypeError as exc:  # a YAML value of the wrong type
        raise InvalidParameter(f"Bad setting: {exc}") from None
