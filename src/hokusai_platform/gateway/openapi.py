"""The gateway's own API as an OpenAPI 3.0 document, served at /openapi.json.

It describes the gateway's endpoints (the key admin API's among them), how a key (or a
browser's session) is presented, and the errors the boundary answers; what lies behind
/api/mlflow is MLflow's REST API,
documented by MLflow.
"""

from __future__ import annotations

import json

from hokusai_platform import __version__
from hokusai_platform.gateway.grant_admin import TEAM
from hokusai_platform.gateway.key_admin import KEY_ID, MAX_BODY_BYTES, MAX_NAME_CHARS
from hokusai_platform.http.messages import Request, Response
from hokusai_platform.keys.grants import Level
from hokusai_platform.keys.rates import DEFAULT_RATE, MAX_LIMIT

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


def _ref(schema: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _json(description: str, schema: str) -> dict[str, object]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


_ADMIN_ERRORS = {
    "400": _error(
        "A body that is not a JSON object (BAD_REQUEST), or a field's value "
        "(INVALID_PARAMETER_VALUE, naming the field)"
    ),
    "401": _error("No valid key (UNAUTHENTICATED); see WWW-Authenticate"),
    "403": _error("The key's scope is not admin (PERMISSION_DENIED)"),
    "404": _error("No key, team or grant so named (RESOURCE_DOES_NOT_EXIST)"),
    "409": _error(
        "The key is revoked: it can only be listed; or the team exists already (RESOURCE_CONFLICT)"
    ),
    "413": _error(f"Body over {MAX_BODY_BYTES // 1024} KiB (REQUEST_TOO_LARGE)"),
    "421": _error("A Host this gateway does not serve"),
    "429": _error("The admin key's rate limit is spent; see Retry-After and RateLimit-*"),
    "503": _error("The keys database did not answer (TEMPORARILY_UNAVAILABLE)"),
}
_KEY_ID = {
    "name": "key_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": f"^{KEY_ID.pattern}$"},
}
_RATE = {
    "type": "string",
    "example": "600/min",
    "description": f"N/s, N/min, N/hour or N/day, N from 1 to {MAX_LIMIT}",
}
_LEVEL = {"type": "string", "enum": [level.name for level in Level]}
_NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}
_KEY = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "scope": {"type": "string", "enum": ["read", "write", "admin"]},
        "default_permission": {**_LEVEL, "description": "on what no grant names"},
        "rate_limit": _RATE,
        "prefix": {"type": "string", "description": "the secret's first characters"},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": _NULLABLE_TIME,
        "revoked_at": _NULLABLE_TIME,
        "rotated_at": _NULLABLE_TIME,
    },
}
_PRINCIPAL = {"type": "string", "example": "team:vision", "description": "key:<id> or team:<name>"}
_RESOURCE = {
    "type": "string",
    "example": "model:vision/*",
    "description": "experiment:<id>, experiment:<name-prefix>*, model:<name> or model:<prefix>*",
}
_GRANT = {
    "type": "object",
    "properties": {"principal": _PRINCIPAL, "resource": _RESOURCE, "level": _LEVEL},
}
_TEAM_NAME = {"type": "string", "pattern": f"^{TEAM.pattern}$"}
_TEAM = {
    "type": "object",
    "properties": {
        "name": _TEAM_NAME,
        "members": {"type": "array", "items": {"type": "string"}, "description": "key ids"},
    },
}
_SCHEMAS = {
    "Key": _KEY,
    "OneKey": {"type": "object", "properties": {"key": _ref("Key")}},
    "Keys": {
        "type": "object",
        "properties": {"keys": {"type": "array", "items": _ref("Key")}},
    },
    "IssuedKey": {
        "type": "object",
        "properties": {
            "key": _ref("Key"),
            "secret": {"type": "string", "description": "the key itself, shown only this once"},
        },
    },
    "NewKey": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS},
            "scope": {"type": "string", "enum": ["read", "write", "admin"], "default": "read"},
            "rate_limit": {**_RATE, "default": str(DEFAULT_RATE)},
            "expires_at": {**_NULLABLE_TIME, "description": "in the future; null: never"},
            "default_permission": {
                **_LEVEL,
                "nullable": True,
                "description": "on what no grant names; null: from the scope (read: READ, "
                "write: EDIT, admin: MANAGE)",
            },
        },
    },
    "Grant": _GRANT,
    "OneGrant": {"type": "object", "properties": {"grant": _ref("Grant")}},
    "Grants": {
        "type": "object",
        "properties": {"grants": {"type": "array", "items": _ref("Grant")}},
    },
    "NewGrant": {
        **_GRANT,
        "required": ["principal", "resource", "level"],
        "additionalProperties": False,
    },
    "GrantToRemove": {
        "type": "object",
        "required": ["principal", "resource"],
        "additionalProperties": False,
        "properties": {"principal": _PRINCIPAL, "resource": _RESOURCE},
    },
    "Team": _TEAM,
    "OneTeam": {"type": "object", "properties": {"team": _ref("Team")}},
    "Teams": {"type": "object", "properties": {"teams": {"type": "array", "items": _ref("Team")}}},
    "NewTeam": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": _TEAM_NAME},
    },
    "Limits": {
        "type": "object",
        "required": ["rate_limit"],
        "additionalProperties": False,
        "properties": {"rate_limit": _RATE},
    },
}


def _admin(summary: str, ok: dict[str, object], body: str | None = None) -> dict[str, object]:
    operation: dict[str, object] = {
        "summary": summary,
        "tags": ["key admin (admin scope)"],
        "responses": {**ok, **_ADMIN_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return operation


_KEY_ADMIN_PATHS = {
    "/api/admin/v1/keys": {
        "get": _admin("List keys (never their secrets)", {"200": _json("Every key", "Keys")}),
        "post": _admin("Create a key; its secret is in this answer only",
                       {"201": _json("The key and its secret", "IssuedKey")}, "NewKey"),
    },
    "/api/admin/v1/keys/{key_id}": {
        "parameters": [_KEY_ID],
        "get": _admin("One key", {"200": _json("The key", "OneKey")}),
    },
    "/api/admin/v1/keys/{key_id}/rotate": {
        "parameters": [_KEY_ID],
        "post": _admin("A new secret, in this answer only; the old one stops working within 1 s",
                       {"200": _json("The key and its new secret", "IssuedKey")}),
    },
    "/api/admin/v1/keys/{key_id}/revoke": {
        "parameters": [_KEY_ID],
        "post": _admin("Revoke the key; every gateway refuses it within 1 s",
                       {"200": _json("The revoked key", "OneKey")}),
    },
    "/api/admin/v1/keys/{key_id}/limits": {
        "parameters": [_KEY_ID],
        "put": _admin("Set the key's rate limit", {"200": _json("The key", "OneKey")}, "Limits"),
        "delete": _admin(f"Clear the key's rate limit: back to the default, {DEFAULT_RATE}",
                         {"200": _json("The key", "OneKey")}),
    },
}  # fmt: skip
_TEAM_PARAMETER = {"name": "team", "in": "path", "required": True, "schema": _TEAM_NAME}
_GRANT_ADMIN_PATHS = {
    "/api/admin/v1/grants": {
        "get": _admin("List grants", {"200": _json("Every grant", "Grants")}),
        "post": _admin("Grant a key or team a level on a resource (replacing its level there);"
                       " gateways follow within 1 s",
                       {"201": _json("The grant", "OneGrant")}, "NewGrant"),
        "delete": _admin("Remove a grant, named exactly as it was made",
                         {"200": _JSON_OK}, "GrantToRemove"),
    },
    "/api/admin/v1/teams": {
        "get": _admin("List teams and their members", {"200": _json("Every team", "Teams")}),
        "post": _admin("Create a team", {"201": _json("The team", "OneTeam")}, "NewTeam"),
    },
    "/api/admin/v1/teams/{team}": {
        "parameters": [_TEAM_PARAMETER],
        "delete": _admin("Delete a team, its memberships and its grants", {"200": _JSON_OK}),
    },
    "/api/admin/v1/teams/{team}/members/{key_id}": {
        "parameters": [_TEAM_PARAMETER, _KEY_ID],
        "put": _admin("Put the key in the team", {"200": _JSON_OK}),
        "delete": _admin("Take the key out of the team", {"200": _JSON_OK}),
    },
}  # fmt: skip
_PAGE = {"description": "The login page", "content": {"text/html": {"schema": {"type": "string"}}}}
_TO_THE_UI = {"description": "Logged in: on to MLflow's UI (Set-Cookie: hokusai_session)"}
_LOGIN_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["key"],
                "properties": {
                    "key": {"type": "string"},
                    "next": {"type": "string"},
                    "fragment": {"type": "string"},
                },
            }
        }
    },
}
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
            },
            **_SCHEMAS,
        },
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "basic": {"type": "http", "scheme": "basic", "description": "the key as password"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "session": {"type": "apiKey", "in": "cookie", "name": "hokusai_session",
                        "description": "a browser's, from POST /login"},
        },
    },
    "security": [{"bearer": []}, {"basic": []}, {"apiKey": []}, {"session": []}],
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
        "/login": {
            "get": {"summary": "The login page", "security": [], "parameters": [
                        {"name": "next", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": _PAGE, "303": _TO_THE_UI}},
            "post": {"summary": "Log in with a key: a session cookie", "security": [],
                     "requestBody": _LOGIN_FORM,
                     "responses": {"303": _TO_THE_UI, "401": _error("Not a valid key"),
                                   "403": _error("Sent from another site"),
                                   "413": _error("Form too large"),
                                   "415": _error("Not a urlencoded form")}},
        },
        "/logout": {method: {"summary": "End the session", "security": [],
                             "responses": {"200": _PAGE, "403": _error("Sent from another site")}}
                    for method in ("get", "post")},
        "/login/link": {"get": {"summary": "Redeem a one-time login link (hokusai login-link)",
                                "security": [], "parameters": [
                                    {"name": "token", "in": "query", "required": True,
                                     "schema": {"type": "string"}}],
                                "responses": {"303": _TO_THE_UI,
                                              "401": _error("Used already, or expired")}}},
        "/api/mlflow/version": {"get": {"summary": "MLflow's version (no key needed)",
                                        "security": [], "responses": {"200": {"description":
                                                                              "The version"}}}},
        "/api/mlflow/health": {"get": {"summary": "MLflow's health (no key needed)",
                                       "security": [], "responses": {"200": {"description":
                                                                             "OK"}}}},
        "/api/mlflow/{path}": {method: _PROXIED for method in
                               ("get", "post", "put", "patch", "delete")},
        **_KEY_ADMIN_PATHS,
        **_GRANT_ADMIN_PATHS,
    },
}  # fmt: skip

_BODY = json.dumps(DOCUMENT).encode()


async def openapi_json(request: Request) -> Response:
    return Response(body=_BODY, content_type="application/json")
