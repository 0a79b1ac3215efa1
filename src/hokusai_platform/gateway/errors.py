"""Every error the gateway answers is JSON in MLflow's shape: {"error_code", "message"}."""

from __future__ import annotations

import json

from hokusai_platform.gateway.responses import Response

BAD_REQUEST = "BAD_REQUEST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
BAD_GATEWAY = "BAD_GATEWAY"
GATEWAY_TIMEOUT = "GATEWAY_TIMEOUT"
INTERNAL_ERROR = "INTERNAL_ERROR"

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
    body = json.dumps({"error_code": error_code, "message": message}).encode()
    return Response(status=status, body=body, content_type="application/json")
