"""One exception family for trk. Each class carries an HTTP status and an error code.

No web framework is imported here: `trk.http_errors` maps these to HTTP for every web app,
and `trk.cli_common` to exit codes for every command. The codes are MLflow's where MLflow
has the case; trk's own failures (model files, optional libraries) have codes of their
own, so a client rebuilding an error from a server's answer gets the same class and status.
A subclass that only narrows its parent's meaning (MalformedUri, PayloadTooLarge, ...)
keeps its parent's code.
"""

from __future__ import annotations

from http import HTTPStatus


class TrkError(Exception):
    """Base of every error trk raises on purpose."""

    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    error_code: str = "INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


class InvalidParameter(TrkError):
    """A value the caller passed is not acceptable."""

    status = HTTPStatus.BAD_REQUEST
    error_code = "INVALID_PARAMETER_VALUE"


class BadRequest(TrkError):
    """A request body that cannot be decoded at all."""

    status = HTTPStatus.BAD_REQUEST
    error_code = "BAD_REQUEST"


class PayloadTooLarge(BadRequest):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnsupportedMediaType(BadRequest):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class RequestTimeout(BadRequest):
    """A client that did not finish sending its request in time."""

    status = HTTPStatus.REQUEST_TIMEOUT


class NotFound(TrkError):
    """An experiment, run, model, version, alias or artifact that does not exist."""

    status = HTTPStatus.NOT_FOUND
    error_code = "RESOURCE_DOES_NOT_EXIST"


class EndpointNotFound(NotFound):
    """A route the server does not have (an older trk server, or `mlflow server` asked for
    trk's own endpoints): MLflow's answer to an unknown path."""

    error_code = "ENDPOINT_NOT_FOUND"


class AlreadyExists(TrkError):
    status = HTTPStatus.BAD_REQUEST
    error_code = "RESOURCE_ALREADY_EXISTS"


class WrittenOnce(AlreadyExists):
    """Evidence that is written once (a label) was sent again: 409, and nothing changed."""

    status = HTTPStatus.CONFLICT


class TooManyRequests(TrkError):
    """A bounded resource is full (pending labels of a model): try again later."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    error_code = "RESOURCE_EXHAUSTED"


class InvalidState(TrkError):
    """The operation conflicts with the resource's current state."""

    status = HTTPStatus.BAD_REQUEST
    error_code = "INVALID_STATE"


class Conflict(TrkError):
    """A write lost a race: what it was based on changed meanwhile (re-read, then retry)."""

    status = HTTPStatus.CONFLICT
    error_code = "ABORTED"


class LimitExceeded(TrkError):
    """A count the server caps (e.g. webhooks per server) is reached. 400, not 429: waiting
    does not help, and MLflow's client retries a 429 for minutes."""

    status = HTTPStatus.BAD_REQUEST
    error_code = "RESOURCE_LIMIT_EXCEEDED"


class MalformedUri(InvalidParameter):
    pass


class SignatureMismatch(InvalidParameter):
    """Model input that does not satisfy the model's signature."""


class ModelError(TrkError):
    """A model directory that cannot be loaded (missing, corrupt, refused, unknown flavor)."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR
    error_code = "MODEL_ERROR"


class ConversionError(ModelError):
    """A model that cannot be converted (e.g. to ONNX), or whose conversion predicts differently."""

    error_code = "CONVERSION_ERROR"


class IntegrityError(ModelError):
    """A model file that differs from the manifest pinned when its version was registered."""

    error_code = "INTEGRITY_ERROR"


class PredictError(TrkError):
    """The model itself raised while predicting (a 500 INTERNAL_ERROR, as any bug would be)."""


class ModelInputError(BadRequest):
    """Request data the model could not read (conversion or shape), found as it read it.

    MLflow's scoring server answers every failed predict with 400 BAD_REQUEST; trk does so
    only for these, and keeps a model that fails on input it accepted a 500 (PredictError).
    """


class MissingDependency(TrkError):
    """An optional library (torch, onnxruntime, ...) that a flavor needs is not installed."""

    error_code = "MISSING_DEPENDENCY"


class Unauthenticated(TrkError):
    status = HTTPStatus.UNAUTHORIZED
    error_code = "UNAUTHENTICATED"


class PermissionDenied(TrkError):
    """A request this server refuses whoever sends it: a foreign Host, a cross-site Origin."""

    status = HTTPStatus.FORBIDDEN
    error_code = "PERMISSION_DENIED"


class DeadlineExceeded(TrkError):
    status = HTTPStatus.GATEWAY_TIMEOUT
    error_code = "DEADLINE_EXCEEDED"


class Unavailable(TrkError):
    """A store or server that cannot be reached."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    error_code = "TEMPORARILY_UNAVAILABLE"


class NotImplementedHere(TrkError):
    """An MLflow API that trk server knows but does not serve (say which, and why)."""

    status = HTTPStatus.NOT_IMPLEMENTED
    error_code = "NOT_IMPLEMENTED"


def _family() -> list[type[TrkError]]:
    found, todo = [], [TrkError]
    while todo:
        cls = todo.pop(0)
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def from_error_code(code: str, message: str, status: int | None = None) -> TrkError:
    """Rebuild the typed error a server sent as `{"error_code", "message"}` with `status`.

    The code picks the class; where subclasses share their parent's code (413 and 415 are
    BAD_REQUEST as in MLflow), the response's status picks among them.
    """
    matches = [c for c in _family() if c.error_code == code]
    exact = [c for c in matches if status is None or int(c.status) == status]
    return (exact or matches or [TrkError])[0](message)
