"""Grants, enforced on the route table's rules.

A key whose grants never take away what its scope gives (`Access.unrestricted`: admin, or a
default of its scope's level and no grant below it) is not looked at again: its scope already
decided, as before grants existed. For any other key, every id the route names is read where
MLflow reads it (gateway/request_names.py), led to its experiment or registered model
(gateway/lookups.py) and checked against the level the route needs: 403 below it, 400 when the
request names its resource ambiguously, 404 when MLflow does not know it. Before refusing, the
key's grants are read afresh once: a grant made a moment ago (the ownership of what the key just
created, perhaps through another process) counts at once. Its searches are filtered
(gateway/search_filter.py).

A key pinned to an MLflow workspace has its request pinned first (gateway/workspaces.py).

For every key: creating an experiment or a registered model grants the creator MANAGE on it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from hokusai_platform.gateway import errors
from hokusai_platform.gateway.exchange import Exchange, Forward
from hokusai_platform.gateway.graphql_names import (
    GraphQLRequest,
    NotUnderstood,
    readable_versions,
)
from hokusai_platform.gateway.lookups import LookupFailed, Lookups
from hokusai_platform.gateway.request_names import (
    BodyTooLarge,
    Contradiction,
    Named,
    RequestNames,
    message_json,
    read_body,
)
from hokusai_platform.gateway.routes import Route
from hokusai_platform.gateway.rules import SEARCHES, Action, Kind, Source
from hokusai_platform.gateway.search_filter import Search, filtered_search
from hokusai_platform.gateway.workspaces import pin, requested_workspace
from hokusai_platform.http.messages import AnyResponse, Request, Response
from hokusai_platform.keys.access import Access, ExperimentNameNeeded
from hokusai_platform.keys.grants import Level, Resource
from hokusai_platform.keys.store import Caller

log = logging.getLogger("hokusai.grants")

PERMISSION_DENIED = "PERMISSION_DENIED"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"

Refresh = Callable[[], Awaitable[Caller | None]]
GrantOwner = Callable[[str, Resource], Awaitable[object]]
Refuse = Callable[[Exchange, str, int, str, str], Response]
"""The answer refusing an exchange (reason, status, error code, message), logged with its id."""


class NotFound(LookupError):
    """MLflow does not know the run, logged model, trace or experiment named."""


class Enforcer:
    def __init__(
        self, lookups: Lookups, grant_owner: GrantOwner, refuse: Refuse, max_json_body_bytes: int
    ) -> None:
        self._lookups = lookups
        self._grant_owner = grant_owner
        self._refuse = refuse
        self._max_body = max_json_body_bytes

    async def handle(
        self,
        exchange: Exchange,
        caller: Caller,
        route: Route,
        mlflow_path: str,
        refresh: Refresh,
        forward: Forward,
    ) -> AnyResponse:
        request = exchange.request
        action = route.rule.action
        workspace = caller.key.workspace
        if workspace is None:
            workspace = requested_workspace(request)
        elif (asked := pin(request, mlflow_path, workspace)) is not None:
            return self._refuse(
                exchange,
                "workspace",
                403,
                PERMISSION_DENIED,
                f"key {caller.key.id} is pinned to workspace {workspace!r}; "
                f"the request asks for {asked[:80]!r}",
            )
        if not caller.access.unrestricted:
            try:
                refusal = await self._check(exchange, caller, route, refresh, workspace)
                if refusal is not None:
                    return refusal
                if action in SEARCHES:
                    assert action is not None
                    return await self._search(
                        exchange, caller.access, action, mlflow_path, workspace
                    )
                if action is Action.GRAPHQL:
                    return await self._graphql(exchange, caller, refresh, mlflow_path, workspace)
            except Contradiction as exc:
                return self._refuse(
                    exchange, "ambiguous", 400, errors.INVALID_PARAMETER_VALUE, str(exc)
                )
            except BodyTooLarge as exc:
                return self._refuse(exchange, "too_large", 413, errors.REQUEST_TOO_LARGE, str(exc))
            except NotFound as exc:
                return self._refuse(exchange, "not_found", 404, RESOURCE_DOES_NOT_EXIST, str(exc))
            except LookupFailed as exc:
                return self._refuse(exchange, "lookup", 502, errors.BAD_GATEWAY, str(exc))
        forgotten = (
            await self._named_experiments(request, route)
            if action is Action.FORGET_EXPERIMENT
            else ()
        )
        response = await forward(exchange)
        if response.status == 200 and action is not None:
            for experiment_id in forgotten:
                self._lookups.forget_experiment(workspace, experiment_id)
            if action in (Action.OWN_EXPERIMENT, Action.OWN_MODEL) and isinstance(
                response, Response
            ):
                await self._own(exchange, caller, action, response.body)
        return response

    async def _check(
        self,
        exchange: Exchange,
        caller: Caller,
        route: Route,
        refresh: Refresh,
        workspace: str | None,
    ) -> Response | None:
        request, rule = exchange.request, route.rule
        if not rule.ruled:
            return self._unruled(exchange, caller, f"{request.method} {request.path}")
        named = [(await self._names(request, route)).read(names) for names in rule.names]
        if named and not any(names.ids for names in named):  # all optional, none given
            fields = " or ".join(field for names in rule.names for field in names.fields)
            raise Contradiction(f"the request names none of {fields}")
        return await self._refusal(exchange, caller, named, refresh, workspace)

    async def _refusal(
        self,
        exchange: Exchange,
        caller: Caller,
        named: list[Named],
        refresh: Refresh,
        workspace: str | None,
    ) -> Response | None:
        """403 unless the key's grants, read afresh once if need be, reach all of `named`."""
        access = caller.access
        for attempt in range(2):
            denial = await self.denial(workspace, access, named)
            if denial is None:
                return None
            fresh = await refresh() if attempt == 0 else None
            if fresh is None:
                break
            access = fresh.access
        return self._refuse(
            exchange, "grants", 403, PERMISSION_DENIED, f"key {caller.key.id} {denial}"
        )

    async def _names(self, request: Request, route: Route) -> RequestNames:
        reads_body = request.method != "GET" and any(
            names.source is Source.MESSAGE for names in route.rule.names
        )
        if request.method == "GET" and request.body is not None and route.rule.names:
            raise Contradiction("a GET names its resource in the query string, not a body")
        body = await read_body(request, self._max_body) if reads_body else None
        return RequestNames.of_request(request, route.params, body)

    async def _named_experiments(self, request: Request, route: Route) -> tuple[str, ...]:
        try:
            names = await self._names(request, route)
            return tuple(i for n in route.rule.names for i in names.read(n).ids)
        except (Contradiction, BodyTooLarge):
            return ()  # MLflow refuses what it cannot read either

    async def denial(self, workspace: str | None, access: Access, named: list[Named]) -> str | None:
        """Why `access` falls short of what `named` (in `workspace`) needs; None if it does not."""
        for names in named:
            for resource_id in names.ids:
                level = await self._level(workspace, access, names.kind, resource_id)
                if level < names.level:
                    return (
                        f"has {level.name} on {names.kind.value} {resource_id!r}; "
                        f"this needs {names.level.name}"
                    )
        return None

    async def _level(
        self, workspace: str | None, access: Access, kind: Kind, resource_id: str
    ) -> Level:
        if kind is Kind.MODEL:
            return access.for_model(resource_id)
        if kind is Kind.EXPERIMENT:
            return await self.experiment_level(workspace, access, resource_id)
        if kind is Kind.EXPERIMENT_NAME:
            experiment_id = await self._lookups.experiment_id(workspace, resource_id)
            if experiment_id is None:
                raise NotFound(f"no experiment named {resource_id!r}")
            return access.for_experiment(experiment_id, resource_id)
        if kind is Kind.DATASET:  # as far as the least of its experiments allows
            experiment_ids = await self._lookups.dataset_experiments(workspace, resource_id)
            if experiment_ids is None:
                raise NotFound(f"no dataset {resource_id!r}")
            levels = [await self.experiment_level(workspace, access, i) for i in experiment_ids]
            return min(levels, default=Level.NO_PERMISSIONS)
        experiment_id = await self._lookups.experiment_of(workspace, kind, resource_id)
        if experiment_id is None:
            raise NotFound(f"no {kind.value} {resource_id!r}")
        return await self.experiment_level(workspace, access, experiment_id)

    async def experiment_level(
        self, workspace: str | None, access: Access, experiment_id: str, name: str | None = None
    ) -> Level:
        """The level on an experiment, its name asked of MLflow only if a prefix grant needs it."""
        try:
            return access.for_experiment(experiment_id, name)
        except ExperimentNameNeeded:
            name = await self._lookups.experiment_name(workspace, experiment_id)
            if name is None:
                raise NotFound(f"no experiment {experiment_id!r}") from None
            return access.for_experiment(experiment_id, name)

    async def _search(
        self,
        exchange: Exchange,
        access: Access,
        action: Action,
        mlflow_path: str,
        workspace: str | None,
    ) -> Response:
        request = exchange.request
        if request.method == "GET" and request.body is not None:
            raise Contradiction("a GET search takes its parameters in the query string")
        body = b"" if request.method == "GET" else await read_body(request, self._max_body)
        search = Search(request.method, mlflow_path, request.query_string, body)
        readable = partial(self._readable, workspace, access, action)
        call = partial(self._lookups.call, workspace)
        status, answer = await filtered_search(search, action, readable, call)
        return Response(status=status, body=answer, content_type="application/json")

    async def _graphql(
        self,
        exchange: Exchange,
        caller: Caller,
        refresh: Refresh,
        mlflow_path: str,
        workspace: str | None,
    ) -> Response:
        request = exchange.request
        body = await read_body(request, self._max_body)
        query = GraphQLRequest(message_json(body))
        try:
            named = query.named()
        except NotUnderstood as exc:
            return self._unruled(exchange, caller, f"/graphql asking for {exc}")
        refusal = await self._refusal(exchange, caller, named, refresh, workspace)
        if refusal is not None:
            return refusal
        target = mlflow_path + (f"?{request.query_string}" if request.query_string else "")
        status, answer = await self._lookups.call(workspace, request.method, target, body)
        if status == 200:
            try:
                result = json.loads(answer)
            except ValueError:
                raise LookupFailed("MLflow's answer to /graphql is not JSON") from None
            access = caller.access
            data = result.get("data") if isinstance(result, dict) else None
            try:
                readable_versions(query, data, lambda name: access.for_model(name) >= Level.READ)
            except NotUnderstood as exc:
                return self._unruled(exchange, caller, f"/graphql asking for {exc}")
            answer = json.dumps(result).encode()
        return Response(status=status, body=answer, content_type="application/json")

    def _unruled(self, exchange: Exchange, caller: Caller, what: str) -> Response:
        return self._refuse(
            exchange,
            "grants",
            403,
            PERMISSION_DENIED,
            f"key {caller.key.id} has per-resource grants, and {what} names a resource "
            "no grant rule covers yet: it needs an admin key",
        )

    async def _readable(
        self, workspace: str | None, access: Access, action: Action, item: dict[str, object]
    ) -> bool:
        if action in (Action.SEARCH_MODELS, Action.SEARCH_VERSIONS):
            name = item.get("name")
            return isinstance(name, str) and access.for_model(name) >= Level.READ
        if action is Action.SEARCH_EXPERIMENTS:
            experiment_id, name = item.get("experiment_id"), item.get("name")
            if isinstance(experiment_id, str) and isinstance(name, str):
                self._lookups.remember_name(experiment_id, name)
        else:
            info = item.get("info")
            info = info if isinstance(info, dict) else {}
            experiment_id, name = info.get("experiment_id"), None
            run_id = info.get("run_id")
            if isinstance(run_id, str) and isinstance(experiment_id, str):
                self._lookups.remember_parent(Kind.RUN, run_id, experiment_id)
        if not isinstance(experiment_id, str):
            return False
        try:
            level = await self.experiment_level(
                workspace, access, experiment_id, name if isinstance(name, str) else None
            )
        except NotFound:
            return False
        return level >= Level.READ

    async def _own(self, exchange: Exchange, caller: Caller, action: Action, body: bytes) -> None:
        try:
            answer = json.loads(body)
            if action is Action.OWN_EXPERIMENT:
                resource = Resource.experiment(answer["experiment_id"])
            else:
                resource = Resource.model(answer["registered_model"]["name"])
        except (ValueError, KeyError, TypeError):
            log.warning("created, but no id in MLflow's answer", extra={"request_id": exchange.id})
            return
        try:
            await self._grant_owner(caller.key.id, resource)
        except Exception:
            log.exception("ownership not granted", extra={"request_id": exchange.id})
            return
        log.info(
            "ownership granted",
            extra={"request_id": exchange.id, "key_id": caller.key.id, "resource": str(resource)},
        )
