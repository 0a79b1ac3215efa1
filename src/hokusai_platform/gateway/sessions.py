"""People in the browser: the session cookie, whom it stands for, and the rules around it.

A person logs in with a key (gateway/login.py) and gets a session (keys/sessions.py): an
opaque id in a cookie that stands for the key, its scope and its limits. The rules:
- a request is identified by its cookie only when it presents no key: a key always wins;
- a session is checked the way a key is, by the same `Authenticator` (its bounded cache, its
  refresh within a second, its revoked and expired checks): logout, expiry, and the
  revocation or rotation of the key reach every gateway process within a second;
- a request identified by its cookie, with any method but GET, HEAD and OPTIONS, must come
  from the gateway's own pages (CSRF): its `Origin`, or lacking one its `Referer`, names one
  of `HOKUSAI_ALLOWED_HOSTS`, or when none is configured the request's own `Host`;
- a person's page request (GET, `Accept: text/html`, no key) that is not authenticated is
  sent to the login page, which sends it back where it was going once logged in; programs
  get the JSON 401 as before.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urlsplit

from multidict import CIMultiDict

from hokusai_platform.http.messages import Request, Response, json_response
from hokusai_platform.keys import tokens
from hokusai_platform.keys.access import Access
from hokusai_platform.keys.auth import Authenticator, Unauthenticated
from hokusai_platform.keys.sessions import SessionStore
from hokusai_platform.keys.store import Caller, KeyInfo, KeyStore
from hokusai_platform.settings import Settings

COOKIE = "hokusai_session"
LOGIN_PATH = "/login"
HOME = "/api/mlflow/"  # MLflow's UI, through the gateway
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
# Answered by the gateway (MLflow without its auth app answers 404): MLflow's UI asks it
# who is logged in.
CURRENT_USER_PATHS = frozenset(
    ("/api/2.0/mlflow/users/current", "/ajax-api/2.0/mlflow/users/current")
)
_COOKIE_NAME = COOKIE.encode()
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _SessionKeys(KeyStore):
    """The key store as an `Authenticator` sees it through session ids: `identify` answers
    the key a live session stands for."""

    def __init__(self, sessions: SessionStore) -> None:
        super().__init__(sessions.engine)
        self._login_sessions = sessions

    def identify(self, presented: tokens.Presented, known: Access | None = None) -> Caller | None:
        return self._login_sessions.identify(presented, known)


def session_id(request: Request) -> str | None:
    """The session id in the request's cookie, if the request presents no key."""
    names = request.field_names
    if b"cookie" not in names or b"authorization" in names or b"x-api-key" in names:
        return None
    for pair in (request.field(b"cookie") or b"").split(b";"):
        name, _, value = pair.partition(b"=")
        if name.strip() == _COOKIE_NAME:
            return value.strip().decode("latin-1")
    return None


def wants_page(request: Request) -> bool:
    """A person's browser asking for a page: GET, `Accept: text/html`, no key."""
    names = request.field_names
    return (
        request.method in ("GET", "HEAD")
        and b"authorization" not in names
        and b"x-api-key" not in names
        and b"text/html" in (request.field(b"accept") or b"")
    )


def is_own_origin(claimed: str, host: str, allowed_hosts: frozenset[str]) -> bool:
    """Whether `claimed` (an Origin or Referer) is the gateway's own origin: its host is one of
    `allowed_hosts` (any port, as the `Host` check) or, when there are none, it is `host`."""
    try:
        source = urlsplit(claimed)
        default = _DEFAULT_PORTS.get(source.scheme)
        source_port = source.port or default
        target = urlsplit(f"//{host}")
        target_port = target.port or default
    except ValueError:
        return False
    if default is None or not source.hostname:
        return False
    if allowed_hosts:
        name = f"[{source.hostname}]" if ":" in source.hostname else source.hostname
        return name in allowed_hosts
    return (source.hostname, source_port) == (target.hostname, target_port)


def redirect(location: str, *cookies: str) -> Response:
    """A 303 to `location` (a local path), setting `cookies`."""
    headers = CIMultiDict([("Location", location), ("Cache-Control", "no-store")])
    for cookie in cookies:
        headers.add("Set-Cookie", cookie)
    return Response(status=303, headers=headers)


def current_user(key: KeyInfo) -> Response:
    """Who is calling, in the shape of MLflow's auth app (`get_current_user`), which MLflow's
    UI reads for its account menu. `is_admin` stays false even for an admin key: to the UI it
    means the auth app's user management, which the gateway does not have; `is_basic_auth`
    false hides the UI's password and Basic-logout affordances."""
    return json_response(
        {
            "user": {
                "id": key.id,
                "username": f"{key.name} ({key.scope.value})",
                "is_admin": False,
                "scope": key.scope.value,
            },
            "is_basic_auth": False,
        }
    )


class Sessions:
    """Opening, checking and ending sessions, and the cookie that carries them."""

    def __init__(self, store: SessionStore, keys: Authenticator, settings: Settings) -> None:
        self._store = store
        self._keys = keys
        self._sessions = Authenticator(
            _SessionKeys(store), cache_seconds=settings.key_cache_seconds
        )
        self._idle_seconds = settings.session_idle_seconds
        self._lifetime_seconds = settings.session_max_seconds
        self._allowed_hosts = frozenset(settings.allowed_hosts)

    def close(self) -> None:
        self._sessions.close()

    async def authenticate(self, session: str) -> KeyInfo:
        """The key a live session stands for; else `Unauthenticated`."""
        return (await self.identify(session)).key

    async def identify(self, session: str, *, fresh: bool = False) -> Caller:
        """The key a live session stands for, with its grants; else `Unauthenticated`."""
        try:
            return await self._sessions.identify(session, fresh=fresh)
        except Unauthenticated as exc:
            raise Unauthenticated(f"session cookie: {exc}") from None

    async def log_in(self, key_secret: str) -> tuple[KeyInfo, str]:
        """A new session for a valid key, and the key; else `Unauthenticated`."""
        key = await self._keys.authenticate(key_secret)
        session = await asyncio.to_thread(
            self._store.open,
            key.id,
            key_secret,
            idle_seconds=self._idle_seconds,
            lifetime_seconds=self._lifetime_seconds,
        )
        return key, session

    async def redeem(self, link_token: str) -> str | None:
        """A new session from a one-time login link, or None if the link is used or expired."""
        return await asyncio.to_thread(
            self._store.redeem_link,
            link_token,
            idle_seconds=self._idle_seconds,
            lifetime_seconds=self._lifetime_seconds,
        )

    async def log_out(self, session: str) -> None:
        await asyncio.to_thread(self._store.end, session)
        self._sessions.forget(session)  # this process refuses it at once, the others within 1 s

    def cookie(self, request: Request, session: str) -> str:
        return self._cookie(request, session, self._lifetime_seconds)

    def expired_cookie(self, request: Request) -> str:
        return self._cookie(request, "", 0)

    @staticmethod
    def _cookie(request: Request, value: str, max_age: int) -> str:
        forwarded_proto = (request.field(b"x-forwarded-proto") or b"").split(b",")[0]
        secure = "; Secure" if forwarded_proto.strip().lower() == b"https" else ""
        return f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"

    def foreign_origin(self, request: Request) -> str | None:
        """Where a request says it comes from, unless that is the gateway's own pages."""
        claimed = request.field(b"origin") or request.field(b"referer")
        if claimed is None:
            return "no Origin or Referer"
        text = claimed.decode("latin-1")
        return None if is_own_origin(text, request.host, self._allowed_hosts) else text

    def to_login(self, request: Request) -> Response | None:
        """For a person's page request, the way to the login page (which brings them back
        here), forgetting the session cookie that no longer works; None for a program's."""
        if not wants_page(request):
            return None
        location = f"{LOGIN_PATH}?{urlencode({'next': request.raw_path})}"
        if session_id(request) is None:
            return redirect(location)
        return redirect(location, self.expired_cookie(request))
