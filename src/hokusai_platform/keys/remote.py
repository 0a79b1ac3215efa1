"""`hokusai keys --url …`: the key store's operations through a gateway's key admin API.

`RemoteKeys` answers as `KeyStore` does, so every command prints the same either way. The
admin key comes from `HOKUSAI_ADMIN_KEY` only, never from a flag a shell history would keep.
`_exchange` is the one place that speaks HTTP (urllib, until the package has its own client);
it never follows a redirect, so the admin key goes nowhere but the URL given.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from hokusai_platform import __version__
from hokusai_platform.keys import tokens
from hokusai_platform.keys.grants import Level, scope_default
from hokusai_platform.keys.rates import Rate, parse_rate
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.store import IssuedKey, KeyInfo

ADMIN_KEY_VARIABLE = "HOKUSAI_ADMIN_KEY"
KEYS_PATH = "/api/admin/v1/keys"
TIMEOUT_SECONDS = 30.0
MAX_ANSWER_BYTES = 64 * 1024 * 1024

T = TypeVar("T")


class RemoteError(Exception):
    """The gateway could not be asked, or refused: one line saying which and why."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises the 3xx as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirects)


def _exchange(
    url: str, method: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, bytes]:
    """One HTTP request: the answer's status and body, whatever the status."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as answer:
            status, data = answer.status, answer.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        location = exc.headers.get("Location")
        if 300 <= exc.code < 400 and location:
            raise RemoteError(
                f"{url} redirects to {location}; give the gateway's own URL with --url"
            ) from None
        status, data = exc.code, exc.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.URLError as exc:
        reason = exc.reason.strerror if isinstance(exc.reason, OSError) else exc.reason
        raise RemoteError(f"cannot reach {url}: {reason or exc.reason}") from None
    except TimeoutError:
        raise RemoteError(f"{url} did not answer within {TIMEOUT_SECONDS:g} s") from None
    except (http.client.HTTPException, OSError) as exc:
        raise RemoteError(f"{url}: {exc or type(exc).__name__}") from None
    if len(data) > MAX_ANSWER_BYTES:
        raise RemoteError(f"{url} answered with more than {MAX_ANSWER_BYTES} bytes")
    return status, data


def _gateway_url(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError:
        hostname = None
    if hostname is None or parts.scheme not in ("http", "https") or parts.query:
        raise RemoteError(
            f"--url/HOKUSAI_URL: {url!r} is not a gateway URL like http://gateway:8001"
        )
    base_url = url.strip().rstrip("/")
    if base_url.endswith("/api/mlflow"):
        raise RemoteError(
            f"--url/HOKUSAI_URL: {url!r} is MLflow's tracking URI; give the gateway's own URL,"
            " without /api/mlflow"
        )
    return base_url


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _key(document: Any) -> KeyInfo:
    created_at = _time(document["created_at"])
    if created_at is None:
        raise ValueError("a key without created_at")
    scope = Scope(document["scope"])
    default = Level.parse(document["default_permission"])
    return KeyInfo(
        id=str(document["id"]),
        name=str(document["name"]),
        scope=scope,
        rate=parse_rate(document["rate_limit"]),
        lookup=str(document["prefix"]).removeprefix(tokens.PREFIX),
        created_at=created_at,
        expires_at=_time(document["expires_at"]),
        revoked_at=_time(document["revoked_at"]),
        rotated_at=_time(document["rotated_at"]),
        # The API gives the level in force; one that is not the scope's was set on the key.
        default_permission=None if default is scope_default(scope) else default,
        workspace=None if document.get("workspace") is None else str(document["workspace"]),
    )


def parsed(parse: Callable[[Any], T], document: Any) -> T:
    try:
        return parse(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise RemoteError(
            f"the gateway's answer is not what hokusai {__version__} expects ({exc!r})"
        ) from None


class RemoteKeys:
    """The key admin API of the gateway at `base_url`, called with `admin_key`."""

    def __init__(self, base_url: str, admin_key: str) -> None:
        self._base_url = base_url
        self._headers = {
            "Authorization": f"Bearer {admin_key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": f"hokusai/{__version__}",
        }

    @classmethod
    def connect(cls, url: str, env: Mapping[str, str]) -> RemoteKeys:
        base_url = _gateway_url(url)
        admin_key = env.get(ADMIN_KEY_VARIABLE, "").strip()
        if not admin_key:
            raise RemoteError(
                f"{ADMIN_KEY_VARIABLE}: not set; managing keys through {base_url} "
                "takes an admin key (hokusai keys create --scope admin, on the database)"
            )
        return cls(base_url, admin_key)

    def create(
        self,
        name: str,
        scope: Scope,
        rate: Rate,
        expires_at: datetime | None,
        default: Level | None,
        workspace: str | None,
    ) -> IssuedKey:
        """As `KeyStore.create`, which the commands call with every argument."""
        fields = {
            "name": name,
            "scope": scope.value,
            "rate_limit": str(rate),
            "expires_at": None if expires_at is None else expires_at.isoformat(),
            "default_permission": None if default is None else default.name,
            "workspace": workspace,
        }
        return self._issued(self.call("POST", "", fields))

    def list(self) -> list[KeyInfo]:
        return parsed(lambda answer: [_key(key) for key in answer["keys"]], self.call("GET", ""))

    def get(self, key_id: str) -> KeyInfo:
        return self._one("GET", self._path(key_id))

    def revoke(self, key_id: str) -> KeyInfo:
        return self._one("POST", self._path(key_id, "/revoke"))

    def rotate(self, key_id: str) -> IssuedKey:
        return self._issued(self.call("POST", self._path(key_id, "/rotate")))

    def set_rate(self, key_id: str, rate: Rate) -> KeyInfo:
        return self._one("PUT", self._path(key_id, "/limits"), {"rate_limit": str(rate)})

    def clear_rate(self, key_id: str) -> KeyInfo:
        return self._one("DELETE", self._path(key_id, "/limits"))

    @staticmethod
    def _path(key_id: str, action: str = "") -> str:
        return "/" + quote(key_id, safe="") + action

    def _one(self, method: str, path: str, fields: Mapping[str, object] | None = None) -> KeyInfo:
        return parsed(lambda answer: _key(answer["key"]), self.call(method, path, fields))

    @staticmethod
    def _issued(document: Any) -> IssuedKey:
        return parsed(
            lambda answer: IssuedKey(_key(answer["key"]), str(answer["secret"])), document
        )

    def call(
        self,
        method: str,
        path: str,
        fields: Mapping[str, object] | None = None,
        under: str = KEYS_PATH,
    ) -> Any:
        """The answer's JSON document; RemoteError for every failure, in one line."""
        url = self._base_url + under + path
        body = None if fields is None else json.dumps(fields).encode()
        status, data = _exchange(url, method, self._headers, body)
        try:
            document = json.loads(data)
        except ValueError:
            document = None
        if status >= 400 and isinstance(document, dict) and "error_code" in document:
            hint = f" ({ADMIN_KEY_VARIABLE} is not a valid key there)" if status == 401 else ""
            raise RemoteError(
                f"{method} {url}: {status} {document['error_code']}: "
                f"{document.get('message', '')}{hint}"
            )
        if status >= 300 or not isinstance(document, dict):
            raise RemoteError(
                f"{method} {url}: answered {status} without the key admin API's JSON;"
                " is it a Hokusai gateway?"
            )
        return document
