"""The discovery server's control API (loopback only), and the small client the CLI uses.

Cloud Map's instance API, reduced to what a local stack needs; every error is JSON in MLflow's
shape, `{"error_code", "message"}`::

    GET    /v1/services                          the namespace, its services and instances
    POST   /v1/services/{service}/instances      {"address", "port", "instance_id"?, "ttl"?}
    DELETE /v1/services/{service}/instances/{id}          id: the instance id, or its "ip:port"
    PUT    /v1/services/{service}/instances/{id}/health   {"status": "HEALTHY"|"UNHEALTHY"}
    GET    /v1/stats                             queries answered, by name and type
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

from aiohttp import web

from hokusai_platform.discovery.local.registry import NotFound, Registry, RegistryError

REGISTRY_KEY: web.AppKey[Registry] = web.AppKey("registry")
QUERIES_KEY: web.AppKey[Counter[tuple[str, str]]] = web.AppKey("queries")
MAX_BODY = 64 * 1024
_CODE_FOR_STATUS = {404: "ENDPOINT_NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "REQUEST_TOO_LARGE"}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error_code": code, "message": message}, status=status)


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except NotFound as exc:
        return _error(404, "RESOURCE_DOES_NOT_EXIST", str(exc))
    except RegistryError as exc:
        return _error(400, "INVALID_PARAMETER_VALUE", str(exc))
    except web.HTTPException as exc:
        return _error(exc.status, _CODE_FOR_STATUS.get(exc.status, "BAD_REQUEST"), exc.reason)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise RegistryError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise RegistryError("the body must be a JSON object")
    return body


def _integer(body: dict[str, Any], key: str, *, required: bool) -> int | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RegistryError(f"{key!r} must be a whole number")
    return value


async def list_services(request: web.Request) -> web.Response:
    return web.json_response(request.app[REGISTRY_KEY].to_json())


async def register(request: web.Request) -> web.Response:
    body = await _body(request)
    address, instance_id = body.get("address"), body.get("instance_id")
    if not isinstance(address, str):
        raise RegistryError("'address' must be an IPv4 address")
    if instance_id is not None and not isinstance(instance_id, str):
        raise RegistryError("'instance_id' must be a string")
    port = _integer(body, "port", required=True)
    assert port is not None
    instance = request.app[REGISTRY_KEY].register(
        request.match_info["service"],
        instance_id,
        address,
        port,
        ttl=_integer(body, "ttl", required=False),
    )
    return web.json_response(instance.to_json(), status=201)


async def deregister(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY_KEY]
    instance = registry.deregister(request.match_info["service"], request.match_info["instance"])
    return web.json_response(instance.to_json())


async def set_health(request: web.Request) -> web.Response:
    status = (await _body(request)).get("status")
    if status not in ("HEALTHY", "UNHEALTHY"):
        raise RegistryError("'status' must be HEALTHY or UNHEALTHY")
    instance = request.app[REGISTRY_KEY].set_health(
        request.match_info["service"], request.match_info["instance"], status == "HEALTHY"
    )
    return web.json_response(instance.to_json())


async def stats(request: web.Request) -> web.Response:
    queries = request.app[QUERIES_KEY]
    return web.json_response(
        {"queries": [{"name": n, "type": t, "count": c} for (n, t), c in queries.items()]}
    )


def control_app(registry: Registry, queries: Counter[tuple[str, str]]) -> web.Application:
    """The API over `registry`; `queries` counts the DNS questions answered, by name and type."""
    app = web.Application(middlewares=[_json_errors], client_max_size=MAX_BODY)
    app[REGISTRY_KEY] = registry
    app[QUERIES_KEY] = queries
    instances = "/v1/services/{service}/instances"
    app.router.add_get("/v1/services", list_services)
    app.router.add_post(instances, register)
    app.router.add_delete(instances + "/{instance}", deregister)
    app.router.add_put(instances + "/{instance}/health", set_health)
    app.router.add_get("/v1/stats", stats)
    return app


class ControlError(Exception):
    """The control API refused a request or could not be reached; the message says which."""


def call(base_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One request to the control API; its JSON answer, or ControlError with its message."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base_url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        try:
            message = json.load(exc).get("message", exc.reason)
        except ValueError:
            message = exc.reason
        raise ControlError(message) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ControlError(
            f"discovery control API at {base_url} not reachable ({reason});"
            " is `hokusai discovery serve` running?"
        ) from None
