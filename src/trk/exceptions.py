"""One exception family for trk. Each class carries an HTTP status and an MLflow error code.

No web framework is imported here: the HTTP layer and the CLI map these in one place each.
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


class NotFound(TrkError):
    """An experiment, run, model, version, alias or artifact that does not exist."""

    status = HTTPStatus.NOT_FOUND
    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(TrkError):
    status = HTTPStatus.BAD_REQUEST
    error_code = "RESOURCE_ALREADY_EXISTS"


class InvalidState(TrkError):
    """The operation conflicts with the resource's current state."""

    status = HTTPStatus.BAD_REQUEST
    error_code = "INVALID_STATE"


class MalformedUri(InvalidParameter):
    pass


class SignatureMismatch(InvalidParameter):
    """Model input that does not satisfy the model's signature."""


class ModelError(TrkError):
    """A model directory that cannot be loaded (missing, corrupt, tampered, unknown flavor)."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR
    error_code = "INVALID_STATE"


class ConversionError(ModelError):
    """A model that cannot be converted (e.g. to ONNX), or whose conversion predicts differently."""


class IntegrityError(ModelError):
    """A model file whose sha256 differs from the one recorded when it was written."""


class PredictError(TrkError):
    """The model itself raised while predicting."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR
    error_code = "INTERNAL_ERROR"


class MissingDependency(TrkError):
    """An optional library (torch, onnxruntime, ...) that a flavor needs is not installed."""

    error_code = "INVALID_STATE"


class Unauthenticated(TrkError):
    status = HTTPStatus.UNAUTHORIZED
    error_code = "UNAUTHENTICATED"


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


_BY_CODE: dict[str, type[TrkError]] = {
    "INVALID_PARAMETER_VALUE": InvalidParameter,
    "BAD_REQUEST": BadRequest,
    "RESOURCE_DOES_NOT_EXIST": NotFound,
    "RESOURCE_ALREADY_EXISTS": AlreadyExists,
    "INVALID_STATE": InvalidState,
    "UNAUTHENTICATED": Unauthenticated,
    "DEADLINE_EXCEEDED": DeadlineExceeded,
    "TEMPORARILY_UNAVAILABLE": Unavailable,
    "NOT_IMPLEMENTED": NotImplementedHere,
}


def from_error_code(code: str, message: str) -> TrkError:
    """Rebuild the typed error a server sent as `{"error_code", "message"}`."""
    return _BY_CODE.get(code, TrkError)(message)
