"""Every error the gateway answers is JSON in MLflow's shape: {"error_code", "message"}."""

from __future__ import annotations

from hokusai_platform.http.errors import HttpError
from hokusai_platform.http.messages import Response, json_response

BAD_REQUEST = "BAD_REQUEST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
BAD_GATEWAY = "BAD_GATEWAY"
GATEWAY_TIMEOUT = "GATEWAY_TIMEOUT"
INTERNAL_ERROR = "INTERNAL_ERROR"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
HEADERS_TOO_LARGE = "REQUEST_HEADER_FIELDS_TOO_LARGE"

_CODE_FOR_STATUS = {
    400: BAD_REQUEST,
    404: ENDPOINT_NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: REQUEST_TOO_LARGE,
    502: BAD_GATEWAY,
    504: GATEWAY_TIMEOUT,
}


def error_code_for(status: int) -> str:
    return _CODE_FOR_STATUS.get(status, BAD_REQUEST if status < 500 else INTERNAL_ERROR)


def json_error(status: int, error_code: str, message: str) -> Response:
    return json_response({"error_code": error_code, "message": message}, status=status)


# The HTTP server's own refusals (its status 400 and 414 are BAD_REQUEST).
_CODE_FOR_REFUSAL = {
    408: REQUEST_TIMEOUT,
    413: REQUEST_TOO_LARGE,
    431: HEADERS_TOO_LARGE,
}


def refusal(error: HttpError) -> Response:
    """The answer to a request the HTTP server refused itself."""
    return json_error(error.status, _CODE_FOR_REFUSAL.get(error.status, BAD_REQUEST), str(error))
