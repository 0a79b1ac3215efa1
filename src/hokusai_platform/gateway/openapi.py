"""The gateway's own API as an OpenAPI 3.0 document, served at /openapi.json.

It describes the gateway's endpoints, how a key is presented, and the errors the boundary
answers; what lies behind /api/mlflow is MLflow's REST API, documented by MLflow.
"""

from __future__ import annotations

import json

from hokusai_platform import __version__
from hokusai_platform.gateway.http import Request
from hokusai_platform.gateway.responses import Response

_ERROR = {"$ref": "#/components/schemas/Error"}
_JSON_ERROR = {"application/json": {"schema": _ERROR}}


def _error(description: str) -> dict[str, object]:
    return {"description": description, "content": _JSON_ERROR}


_BOUNDARY_ERRORS = {
    "400": _error("Malformed request, a path that could escape MLflow, or a key in the URL"),
    "401": _error("No valid key (UNAUTHENTICATED); see WWW-Authenticate"),
    "403": _error("The key's scope does not cover this route (PERMISSION_DENIED)"),
    "404": _error("MLflow has no such endpoint"),
    "413": _error("Body over the size limit (REQUEST_TOO_LARGE)"),
    "421": _error("A Host this gateway does not serve"),
    "429": _error("The key's rate limit is spent; see Retry-After and RateLimit-*"),
    "431": _error("A request header over the size limit"),
}
_JSON_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
_PROXIED = {
    "summary": "Forwarded to MLflow's /{path}, streaming both ways",
    "parameters": [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}],
    "responses": {"200": {"description": "MLflow's answer"}, **_BOUNDARY_ERRORS},
}

DOCUMENT: dict[str, object] = {
    "openapi": "3.0.3",
    "info": {"title": "Hokusai registry API", "version": __version__},
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error_code", "message"],
                "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "basic": {"type": "http", "scheme": "basic", "description": "the key as password"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        },
    },
    "security": [{"bearer": []}, {"basic": []}, {"apiKey": []}],
    "paths": {
        "/": {"get": {"summary": "Service name, version, endpoints", "security": [],
                      "responses": {"200": _JSON_OK}}},
        "/health": {"get": {"summary": "Dependencies: healthy, degraded or unhealthy",
                            "security": [], "responses": {
                                "200": _JSON_OK, "503": _error("MLflow cannot be reached")}}},
        "/health/live": {"get": {"summary": "The process is up", "security": [],
                                 "responses": {"200": _JSON_OK}}},
        "/health/ready": {"get": {"summary": "MLflow answers now", "security": [],
                                  "responses": {"200": _JSON_OK, "503": _error(
                                      "MLflow cannot be reached, or draining (from SIGTERM on)"
                                  )}}},
        "/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": _JSON_OK}}},
        "/api/mlflow/version": {"get": {"summary": "MLflow's version (no key needed)",
                                        "security": [], "responses": {"200": {"description":
                                                                              "The version"}}}},
        "/api/mlflow/health": {"get": {"summary": "MLflow's health (no key needed)",
                                       "security": [], "responses": {"200": {"description":
                                                                             "OK"}}}},
        "/api/mlflow/{path}": {method: _PROXIED for method in
                               ("get", "post", "put", "patch", "delete")},
    },
}  # fmt: skip

_BODY = json.dumps(DOCUMENT).encode()


async def openapi_json(request: Request) -> Response:
    return Response(body=_BODY, content_type="application/json")
