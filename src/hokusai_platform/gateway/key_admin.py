"""The key admin API: keys created, listed, rotated, revoked and limited over HTTP.

Under `/api/admin/v1`, outside the MLflow proxy's mount, so no MLflow route can ever shadow it
and none of it is ever forwarded. Every request passes the boundary MLflow's routes pass (no
key in the URL, a Host served, a valid key within its rate limit) and needs `admin` scope;
each leaves one audit line naming the action and the key it acted on, refusals included.
A body is a JSON object of at most `MAX_BODY_BYTES`; a secret appears only in the answer to
create and rotate (`Cache-Control: no-store`). The SQL runs in the authenticator's threads,
never on the event loop; other gateways sharing the database follow within a second (their
key cache's bound).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from hokusai_platform.gateway import errors
from hokusai_platform.gateway.exchange import Exchange
from hokusai_platform.gateway.security import Guard
from hokusai_platform.http.messages import Request, Response, json_response
from hokusai_platform.keys.auth import Authenticator
from hokusai_platform.keys.errors import KeyRevoked, UnknownKey
from hokusai_platform.keys.grants import Level
from hokusai_platform.keys.rates import DEFAULT_RATE, Rate, parse_rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import Caller, IssuedKey, KeyInfo, KeyStore
from hokusai_platform.keys.workspaces import parse_workspace

log = logging.getLogger("hokusai.key_admin")

MOUNT = "/api/admin/"
KEYS = "/api/admin/v1/keys"
ENDPOINTS = (
    f"GET {KEYS}",
    f"POST {KEYS}",
    f"GET {KEYS}/{{key_id}}",
    f"POST {KEYS}/{{key_id}}/rotate",
    f"POST {KEYS}/{{key_id}}/revoke",
    f"PUT {KEYS}/{{key_id}}/limits",
    f"DELETE {KEYS}/{{key_id}}/limits",
)
MAX_BODY_BYTES = 64 * 1024
MAX_NAME_CHARS = 200  # the database column's
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
NEW_KEY_FIELDS = ("name", "scope", "rate_limit", "expires_at", "default_permission", "workspace")
LIMITS_FIELDS = ("rate_limit",)
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NO_STORE = {"Cache-Control": "no-store"}

T = TypeVar("T")


class ApiError(Exception):
    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


def invalid_field(field: str, message: str) -> ApiError:
    return ApiError(400, errors.INVALID_PARAMETER_VALUE, f"{field}: {message}")


class Done(NamedTuple):
    """An operation's answer, and what the audit line says it did to which key."""

    answer: Response
    target: str | None
    change: Mapping[str, object] | None = None


Operation = Callable[[Request, str], Awaitable[Done]]


def _route(path: str) -> tuple[str, str] | None:
    """(the route's shape, the key id in it), e.g. ("{key_id}/rotate", "key_0123…")."""
    if path == KEYS:
        return "", ""
    if not path.startswith(KEYS + "/"):
        return None
    key_id, slash, rest = path[len(KEYS) + 1 :].partition("/")
    if not KEY_ID.fullmatch(key_id) or (slash and rest not in ("rotate", "revoke", "limits")):
        return None
    return "{key_id}" + slash + rest, key_id


async def json_object(request: Request, allowed: tuple[str, ...]) -> dict[str, object]:
    """The body as a JSON object with no field outside `allowed`, read within its bound."""
    too_large = ApiError(
        413, errors.REQUEST_TOO_LARGE, f"the body exceeds the limit of {MAX_BODY_BYTES} bytes"
    )
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large
    data = bytearray()
    if request.body is not None:
        request.send_continue()
        async for chunk in request.body.chunks():
            data += chunk
            if len(data) > MAX_BODY_BYTES:
                raise too_large
    try:
        fields = json.loads(data)
    except (ValueError, RecursionError):
        fields = None
    if not isinstance(fields, dict):
        raise ApiError(400, errors.BAD_REQUEST, "the body must be a JSON object")
    for name in fields:
        if name not in allowed:
            raise invalid_field(name, f"unknown field; expected one of {', '.join(allowed)}")
    return fields


def text_field(fields: Mapping[str, object], name: str, default: str | None = None) -> str:
    value = fields.get(name, default)
    if not isinstance(value, str):
        raise invalid_field(name, "must be a string" if name in fields else "required")
    return value


def _name(fields: Mapping[str, object]) -> str:
    name = text_field(fields, "name").strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS or not name.isprintable():
        raise invalid_field("name", f"must be 1 to {MAX_NAME_CHARS} printable characters")
    return name


def _scope(fields: Mapping[str, object]) -> Scope:
    try:
        return Scope(text_field(fields, "scope", Scope.READ.value))
    except ValueError:
        raise invalid_field("scope", "must be read, write or admin") from None


def _rate(fields: Mapping[str, object], default: Rate | None = None) -> Rate:
    text = text_field(fields, "rate_limit", None if default is None else str(default))
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise invalid_field("rate_limit", str(exc)) from None


def _default_permission(fields: Mapping[str, object]) -> Level | None:
    """The key's level on what no grant names; None: the level its scope implies."""
    if fields.get("default_permission") is None:
        return None
    try:
        return Level.parse(text_field(fields, "default_permission"))
    except ValueError as exc:
        raise invalid_field("default_permission", str(exc)) from None


def _workspace(fields: Mapping[str, object]) -> str | None:
    """The MLflow workspace the key is pinned to; None: the caller's choice."""
    if fields.get("workspace") is None:
        return None
    try:
        return parse_workspace(text_field(fields, "workspace"))
    except ValueError as exc:
        raise invalid_field("workspace", str(exc)) from None


def _expires_at(fields: Mapping[str, object]) -> datetime | None:
    if fields.get("expires_at") is None:
        return None
    text = text_field(fields, "expires_at")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_field(
            "expires_at", f"{text[:40]!r} is not an ISO 8601 date and time"
        ) from None
    if moment.tzinfo is None:
        raise invalid_field("expires_at", "needs a time zone, e.g. 2030-01-01T00:00:00Z")
    if moment <= datetime.now(UTC):
        raise invalid_field("expires_at", "must be in the future")
    return moment


def _key(key: KeyInfo) -> Response:
    return json_response({"key": key.to_json()})


def _issued(issued: IssuedKey, status: int) -> Response:
    answer = json_response({"key": issued.info.to_json(), "secret": issued.secret}, status=status)
    answer.headers.update(_NO_STORE)
    return answer


def handler(
    guard: Guard, api: type[KeyAdmin] | None = None
) -> Callable[[Exchange], Awaitable[Response]]:
    """What answers under `MOUNT`: the admin API (`api`, by default the keys' alone), or without
    keys (HOKUSAI_AUTH=off) a 404 that says why."""
    if guard.authenticator is None:
        return _off
    return (api or KeyAdmin)(guard, guard.authenticator).handle


async def _off(exchange: Exchange) -> Response:
    return errors.json_error(
        404, errors.ENDPOINT_NOT_FOUND, "the key admin API is off (HOKUSAI_AUTH=off)"
    )


class KeyAdmin:
    def __init__(self, guard: Guard, authenticator: Authenticator) -> None:
        self._guard = guard
        self._authenticator = authenticator
        self._operations: dict[tuple[str, str], tuple[str, Operation]] = {
            ("", "GET"): ("keys.list", self._list),
            ("", "POST"): ("keys.create", self._create),
            ("{key_id}", "GET"): ("keys.get", self._get),
            ("{key_id}/rotate", "POST"): ("keys.rotate", self._rotate),
            ("{key_id}/revoke", "POST"): ("keys.revoke", self._revoke),
            ("{key_id}/limits", "PUT"): ("keys.set-limits", self._set_limits),
            ("{key_id}/limits", "DELETE"): ("keys.clear-limits", self._clear_limits),
        }

    async def handle(self, exchange: Exchange) -> Response:
        refusal = self._guard.screen(exchange)
        if refusal is not None:
            return refusal
        identified = await self._guard.identify(exchange, self._authenticator)
        if not isinstance(identified, Caller):
            return identified
        caller = exchange.key = identified.key
        request = exchange.request
        found = self._find(request)
        refusal = await self._guard.authorise(exchange, caller, Scope.ADMIN, request.path)
        if isinstance(found, Response):
            action, done = None, Done(refusal or found, None)
        else:
            action, operation, key_id = found
            done = (
                Done(refusal, key_id or None)
                if refusal is not None
                else await self._attempt(operation, request, key_id)
            )
        self._guard.audit.record(
            request_id=exchange.id,
            key_id=caller.id,
            scope=caller.scope.value,
            method=request.method,
            route_family="admin",
            status=done.answer.status,
            bytes_in=request.content_length or 0,
            bytes_out=done.answer.body_length,
            latency_ms=round((time.perf_counter() - exchange.started) * 1000, 3),
            action={"action": action, "target": done.target, "change": done.change},
        )
        return done.answer

    def _find(self, request: Request) -> tuple[str, Operation, str] | Response:
        """The action a request asks for, its operation and the key id in its path; else
        the 404 or 405 to answer."""
        route = self._route(request.path)
        if route is None:
            return errors.json_error(
                404, errors.ENDPOINT_NOT_FOUND, f"no endpoint {request.path[:200]}"
            )
        shape, key_id = route
        found = self._operations.get((shape, request.method))
        if found is None:
            answer = errors.json_error(
                405, errors.METHOD_NOT_ALLOWED, f"{request.method} is not allowed here"
            )
            answer.headers["Allow"] = ", ".join(
                sorted(method for candidate, method in self._operations if candidate == shape)
            )
            return answer
        return found[0], found[1], key_id

    def _route(self, path: str) -> tuple[str, str] | None:
        return _route(path)

    async def _attempt(self, operation: Operation, request: Request, key_id: str) -> Done:
        try:
            return await operation(request, key_id)
        except ApiError as exc:
            return Done(errors.json_error(exc.status, exc.error_code, str(exc)), key_id or None)

    async def _in_store(self, operation: Callable[[KeyStore], T]) -> T:
        try:
            return await self._authenticator.in_store(operation)
        except KeyRevoked as exc:
            raise ApiError(409, RESOURCE_CONFLICT, str(exc)) from None
        except UnknownKey as exc:
            raise ApiError(404, RESOURCE_DOES_NOT_EXIST, str(exc)) from None
        except SQLAlchemyError as exc:
            # The driver's words only: SQLAlchemy's message would add the statement's values.
            cause = exc.orig if isinstance(exc, DBAPIError) else exc
            log.warning("keys database error", extra={"error": str(cause)[:500]})
            raise ApiError(
                503, TEMPORARILY_UNAVAILABLE, "the keys database did not answer; try again"
            ) from None

    async def _list(self, request: Request, key_id: str) -> Done:
        found = await self._in_store(KeyStore.list)
        return Done(json_response({"keys": [key.to_json() for key in found]}), None)

    async def _create(self, request: Request, key_id: str) -> Done:
        fields = await json_object(request, NEW_KEY_FIELDS)
        name, scope = _name(fields), _scope(fields)
        rate, expires_at = _rate(fields, DEFAULT_RATE), _expires_at(fields)
        default, workspace = _default_permission(fields), _workspace(fields)
        issued = await self._in_store(
            lambda store: store.create(name, scope, rate, expires_at, default, workspace)
        )
        key = issued.info.to_json()
        change = {field: key[field] for field in NEW_KEY_FIELDS}
        return Done(_issued(issued, 201), issued.info.id, change)

    async def _get(self, request: Request, key_id: str) -> Done:
        return Done(_key(await self._in_store(lambda store: store.get(key_id))), key_id)

    async def _rotate(self, request: Request, key_id: str) -> Done:
        issued = await self._in_store(lambda store: store.rotate(key_id))
        return Done(_issued(issued, 200), key_id)

    async def _revoke(self, request: Request, key_id: str) -> Done:
        return Done(_key(await self._in_store(lambda store: store.revoke(key_id))), key_id)

    async def _set_limits(self, request: Request, key_id: str) -> Done:
        rate = _rate(await json_object(request, LIMITS_FIELDS))
        key = await self._in_store(lambda store: store.set_rate(key_id, rate))
        return Done(_key(key), key_id, {"rate_limit": str(key.rate)})

    async def _clear_limits(self, request: Request, key_id: str) -> Done:
        key = await self._in_store(lambda store: store.clear_rate(key_id))
        return Done(_key(key), key_id, {"rate_limit": str(key.rate)})
