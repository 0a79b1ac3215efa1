"""The security boundary in front of the MLflow proxy.

In order, for every request under /api/mlflow: no key in the URL; a `Host` we serve (when
`HOKUSAI_ALLOWED_HOSTS` lists them); a valid key, or a browser session standing for one
(unless the route is public: MLflow's `version` and `health`); for a session, a request from
the gateway's own pages (gateway/sessions.py); a scope that covers the route; the key's rate
limit; a body within its size limit; for a key pinned to an MLflow workspace, a request for
no other (gateway/workspaces.py); the key's grants on what the route names
(gateway/enforcement.py). Only then is the request forwarded. Every request made with a valid
key leaves one audit line.

Why a request was refused is logged with its request id; the caller learns only the status.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from prometheus_client import Counter

from hokusai_platform import ratelimit
from hokusai_platform.audit import AuditLog
from hokusai_platform.gateway import errors
from hokusai_platform.gateway.enforcement import Enforcer
from hokusai_platform.gateway.exchange import Exchange, Forward
from hokusai_platform.gateway.lookups import Lookups
from hokusai_platform.gateway.routes import ROUTES
from hokusai_platform.gateway.sessions import (
    CURRENT_USER_PATHS,
    SAFE_METHODS,
    Sessions,
    current_user,
    session_id,
)
from hokusai_platform.http.messages import AnyResponse, Request, Response
from hokusai_platform.keys import database
from hokusai_platform.keys.auth import (
    Authenticator,
    KeyInURL,
    Unauthenticated,
    presented_key,
    reject_key_in_query,
)
from hokusai_platform.keys.grants import Resource
from hokusai_platform.keys.scopes import Scope, route_family
from hokusai_platform.keys.sessions import SessionStore
from hokusai_platform.keys.store import Caller, KeyInfo, KeyStore
from hokusai_platform.ratelimit import RateLimiter
from hokusai_platform.settings import Settings

log = logging.getLogger("hokusai.security")

MOUNT = "/api/mlflow"
UNAUTHENTICATED = "UNAUTHENTICATED"
PERMISSION_DENIED = "PERMISSION_DENIED"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
MISDIRECTED_REQUEST = "MISDIRECTED_REQUEST"
# One per field (RFC 9110 section 11.6.1). A browser whose session ended is offered Bearer
# only: a Basic challenge would make it prompt for a password over MLflow's UI.
CHALLENGES = ('Bearer realm="hokusai"', 'Basic realm="hokusai"')
_ARTIFACT_UPLOAD_MARKERS = ("/mlflow-artifacts/", "/upload-artifact")

REFUSED = Counter("hokusai_requests_refused_total", "Requests refused at the boundary", ["reason"])


def prepare(settings: Settings) -> None:
    """Once per server, before workers start: bring the keys database schema up to date."""
    if settings.auth_required:
        engine = database.create(settings.database_url)
        database.migrate(engine)
        engine.dispose()


def _host_name(host: str) -> str:
    """`Host` without its port, lower-cased (`[::1]:8001` → `[::1]`)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or "]:" in host else host
    return name.lower()


class Guard:
    def __init__(self, settings: Settings, lookups: Lookups) -> None:
        self._settings = settings
        self._allowed_hosts = frozenset(settings.allowed_hosts)
        self.authenticator: Authenticator | None = None
        self.sessions: Sessions | None = None
        self.enforcer: Enforcer | None = None
        if settings.auth_required:
            store = KeyStore(database.create(settings.database_url))
            self.authenticator = Authenticator(store, cache_seconds=settings.key_cache_seconds)
            self.sessions = Sessions(SessionStore(store.engine), self.authenticator, settings)
            self.enforcer = Enforcer(
                lookups, self._grant_owner, self._refuse, settings.max_json_body_bytes
            )
        self.limiter: RateLimiter = ratelimit.connect(
            settings.redis_url, timeout=settings.redis_timeout
        )
        self.audit = AuditLog(settings.audit_log)

    async def redis_health(self) -> dict[str, object]:
        state = await self.limiter.probe()
        return {
            "status": {"ok": "healthy", "down": "unhealthy", "disabled": "disabled"}[state],
            "rate_limits": "enforced" if state == "ok" else "not enforced",
            "last_error": self.limiter.last_error,
        }

    async def close(self) -> None:
        await self.limiter.close()
        if self.authenticator is not None:
            self.authenticator.close()
        if self.sessions is not None:
            self.sessions.close()
        self.audit.close()

    async def handle(self, exchange: Exchange, forward: Forward) -> AnyResponse:
        refusal = self.screen(exchange)
        if refusal is not None:
            return refusal
        request = exchange.request
        mlflow_path = request.path[len(MOUNT) :]
        if (
            self.authenticator is None
            or self.sessions is None
            or self.enforcer is None
            or (route := ROUTES.route(request.method, mlflow_path)) is None
        ):
            refusal = self._size_refusal(exchange, mlflow_path)
            return refusal if refusal is not None else await forward(exchange)
        session = session_id(request)
        caller = await self.identify(exchange, self.authenticator, self.sessions, session)
        if not isinstance(caller, Caller):
            return caller
        key = exchange.key = caller.key
        refusal = self._cross_origin(exchange, self.sessions, session, mlflow_path)
        if refusal is None:
            refusal = await self.authorise(exchange, key, route.scope, mlflow_path)
        if refusal is None:
            refusal = self._size_refusal(exchange, mlflow_path)
        response: AnyResponse
        if refusal is not None:
            response = refusal
        elif mlflow_path in CURRENT_USER_PATHS and request.method in ("GET", "HEAD"):
            response = current_user(key)
        elif caller.scope_only and route.rule.action is None:
            response = await forward(exchange)
        else:
            refresh = partial(self._fresh, request, self.authenticator, self.sessions, session)
            response = await self.enforcer.handle(
                exchange, caller, route, mlflow_path, refresh, forward
            )
        self._record(exchange, key, mlflow_path, response)
        return response

    def screen(self, exchange: Exchange) -> Response | None:
        """The refusal of a request with a key in its URL, or for a Host not served; else None."""
        try:
            reject_key_in_query(exchange.request.query_string)
        except KeyInURL as exc:
            return self._refuse(exchange, "key_in_url", 400, errors.BAD_REQUEST, str(exc))
        if self._allowed_hosts and _host_name(exchange.request.host) not in self._allowed_hosts:
            return self._refuse(
                exchange,
                "host",
                421,
                MISDIRECTED_REQUEST,
                "this server does not serve that Host",
            )
        return None

    async def identify(
        self,
        exchange: Exchange,
        authenticator: Authenticator,
        sessions: Sessions | None = None,
        session: str | None = None,
    ) -> Caller | Response:
        """The valid key the request presents, or that its browser session stands for, with
        its grants; else a person's way to the login page, or the 401 to answer."""
        request = exchange.request
        try:
            if sessions is None or session is None:
                return await authenticator.identify(
                    presented_key(request.headers, request.headers.getall("Authorization", []))
                )
            return await sessions.identify(session)
        except Unauthenticated as exc:
            if sessions is not None and (to_login := sessions.to_login(request)) is not None:
                return to_login
            refusal = self._refuse(
                exchange,
                "unauthenticated",
                401,
                UNAUTHENTICATED,
                "a valid API key is required (Authorization: Bearer <key>)",
                detail=str(exc),
            )
            for challenge in CHALLENGES if session is None else CHALLENGES[:1]:
                refusal.headers.add("WWW-Authenticate", challenge)
            return refusal

    async def _fresh(
        self,
        request: Request,
        authenticator: Authenticator,
        sessions: Sessions,
        session: str | None,
    ) -> Caller | None:
        """The key and its grants as the database has them now; None if it is no longer valid."""
        try:
            if session is None:
                return await authenticator.identify(
                    presented_key(request.headers, request.headers.getall("Authorization", [])),
                    fresh=True,
                )
            return await sessions.identify(session, fresh=True)
        except Unauthenticated:
            return None

    async def _grant_owner(self, key_id: str, resource: Resource) -> None:
        assert self.authenticator is not None
        await self.authenticator.in_store(lambda store: store.grants.grant_owner(key_id, resource))

    def _cross_origin(
        self,
        exchange: Exchange,
        sessions: Sessions,
        session: str | None,
        mlflow_path: str,
    ) -> Response | None:
        """The 403 for a change made with a session cookie from another site's page (CSRF)."""
        request = exchange.request
        if (
            session is None
            or request.method in SAFE_METHODS
            or (foreign := sessions.foreign_origin(request)) is None
        ):
            return None
        return self._refuse(
            exchange,
            "cross_origin",
            403,
            PERMISSION_DENIED,
            f"a request with a session cookie must come from this gateway's pages; "
            f"{request.method} {mlflow_path} came from {foreign}",
        )

    async def authorise(
        self, exchange: Exchange, key: KeyInfo, required: Scope, path: str
    ) -> Response | None:
        """The 403 when the key's scope does not cover `required`, the 429 when its rate
        limit is spent; else None. Every answer to the key says where its limit stands."""
        if not key.scope.allows(required):
            return self._refuse(
                exchange,
                "scope",
                403,
                PERMISSION_DENIED,
                f"key {key.id} has scope {key.scope.value}; "
                f"{exchange.request.method} {path} needs {required.value}",
            )
        decision = await self.limiter.check(key.id, key.rate)
        if decision is None:
            return None
        exchange.response_headers.extend(decision.headers().items())
        if decision.allowed:
            return None
        return self._refuse(
            exchange,
            "rate_limit",
            429,
            REQUEST_LIMIT_EXCEEDED,
            f"key {key.id} is limited to {key.rate}; retry in {decision.retry_after_seconds} s",
        )

    def _size_refusal(self, exchange: Exchange, mlflow_path: str) -> Response | None:
        """The refusal of a body whose declared size is over its route's limit, if it is."""
        length = exchange.request.content_length
        if length is not None:
            is_artifact = any(marker in mlflow_path for marker in _ARTIFACT_UPLOAD_MARKERS)
            limit = (
                self._settings.max_artifact_bytes
                if is_artifact
                else self._settings.max_json_body_bytes
            )
            if length > limit:
                kind = "artifact upload" if is_artifact else "request body"
                return self._refuse(
                    exchange,
                    "too_large",
                    413,
                    errors.REQUEST_TOO_LARGE,
                    f"{kind} of {length} bytes exceeds the limit of {limit} bytes",
                )
        return None

    def _refuse(
        self,
        exchange: Exchange,
        reason: str,
        status: int,
        error_code: str,
        message: str,
        *,
        detail: str | None = None,
    ) -> Response:
        REFUSED.labels(reason).inc()
        log.warning(
            "refused",
            extra={"request_id": exchange.id, "status": status, "reason": detail or message},
        )
        return errors.json_error(status, error_code, message)

    def _record(
        self, exchange: Exchange, key: KeyInfo, mlflow_path: str, response: AnyResponse
    ) -> None:
        request = exchange.request
        self.audit.record(
            request_id=exchange.id,
            key_id=key.id,
            scope=key.scope.value,
            method=request.method,
            route_family=route_family(mlflow_path),
            status=response.status,
            bytes_in=request.content_length or 0,
            bytes_out=response.body_length,
            latency_ms=round((time.perf_counter() - exchange.started) * 1000, 3),
        )
