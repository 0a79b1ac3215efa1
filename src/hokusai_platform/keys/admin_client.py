"""The gateway's admin HTTP API (`/api/admin/v1/…`), called with an admin key: what
`hokusai keys|grants|teams --url` speak through.

The admin key comes from `HOKUSAI_ADMIN_KEY` only, never from a flag a shell history would keep.
`_exchange` is the one place that speaks HTTP (urllib, until the package has its own client);
it never follows a redirect, so the admin key goes nowhere but the URL given.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hokusai_platform import __version__

ADMIN_KEY_VARIABLE = "HOKUSAI_ADMIN_KEY"
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


def parsed(parse: Callable[[Any], T], document: Any) -> T:
    """What `parse` makes of an answer's document; RemoteError if it is not what it expects."""
    try:
        return parse(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise RemoteError(
            f"the gateway's answer is not what hokusai {__version__} expects ({exc!r})"
        ) from None


class AdminClient:
    """The admin API of the gateway at `base_url`, called with `admin_key`."""

    def __init__(self, base_url: str, admin_key: str) -> None:
        self._base_url = base_url
        self._headers = {
            "Authorization": f"Bearer {admin_key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": f"hokusai/{__version__}",
        }

    @classmethod
    def connect(cls, url: str, env: Mapping[str, str]) -> AdminClient:
        """The gateway `url` names, with the admin key `env` holds."""
        base_url = _gateway_url(url)
        admin_key = env.get(ADMIN_KEY_VARIABLE, "").strip()
        if not admin_key:
            raise RemoteError(
                f"{ADMIN_KEY_VARIABLE}: not set; managing keys through {base_url} "
                "takes an admin key (hokusai keys create --scope admin, on the database)"
            )
        return cls(base_url, admin_key)

    def call(self, method: str, path: str, fields: Mapping[str, object] | None = None) -> Any:
        """The JSON document the gateway answers at `path`; RemoteError for every failure, in
        one line."""
        url = self._base_url + path
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
