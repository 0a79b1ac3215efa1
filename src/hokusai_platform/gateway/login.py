"""The login page and its endpoints: `/login`, `/logout` and `/login/link`.

The page is plain HTML without an external asset: a form where a person pastes a key. Its one
inline script (allowed by its hash in the Content-Security-Policy, like its style) copies the
address's `#fragment` into the form: MLflow's UI keeps its place there (`#/experiments/1/…`),
which never reaches a server, and the login sends the person back to it. Only a path into
MLflow's UI is accepted as where to go after the login, so the page cannot be used to send
anyone elsewhere.

A browser is answered with pages; a program (no `text/html` in its Accept) with MLflow-shaped
JSON errors.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from urllib.parse import parse_qs, parse_qsl

from hokusai_platform.gateway import errors
from hokusai_platform.gateway.security import PERMISSION_DENIED, UNAUTHENTICATED
from hokusai_platform.gateway.sessions import HOME, LOGIN_PATH, Sessions, redirect, session_id
from hokusai_platform.http.messages import AnyResponse, Request, Response
from hokusai_platform.http.server import Handler
from hokusai_platform.keys.auth import Unauthenticated
from hokusai_platform.keys.sessions import LINK_SECONDS

log = logging.getLogger("hokusai.security")

LOGOUT_PATH = "/logout"
LINK_PATH = "/login/link"
MAX_FORM_BYTES = 8192
_FRAGMENT = re.compile(r"#[!-~]{0,2000}")  # printable ASCII: nothing a header could not carry

_SCRIPT = 'document.getElementById("fragment").value = window.location.hash;'
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1f2328}"
    "main{max-width:28rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:8px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.2)}"
    "h1{font-size:1.4rem;margin-top:0}label{display:block;font-weight:600;margin-bottom:.4rem}"
    "input{box-sizing:border-box;width:100%;padding:.6rem;font:inherit;font-family:monospace;"
    "border:1px solid #6e7781;border-radius:4px}"
    "button{margin-top:1rem;padding:.6rem 1.2rem;font:inherit;color:#fff;background:#0b5cad;"
    "border:0;border-radius:4px;cursor:pointer}"
    ":focus-visible{outline:3px solid #e0a800;outline-offset:2px}"
    ".error{color:#b42318;font-weight:600}.notice{color:#1a7f37;font-weight:600}"
    ".help{color:#57606a;font-size:.9rem}code{font-size:.9em}"
)


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


_SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        f"default-src 'none'; script-src {_sha256_source(_SCRIPT)}; "
        f"style-src {_sha256_source(_STYLE)}; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    # Same-origin: the form's POST carries its Origin, which the CSRF check reads.
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · Hokusai registry</title>
<style>{style}</style>
</head>
<body>
<main>
<h1>Log in to the Hokusai registry</h1>
{message}<form method="post" action="{action}">
<label for="key">API key</label>
<input id="key" name="key" type="password" required autofocus autocomplete="current-password"
 spellcheck="false" aria-describedby="key-help">
<p id="key-help" class="help">A key looks like <code>hk_live_…</code>; an admin makes one with
<code>hokusai keys create</code>. On the machine that runs <code>hokusai up</code>,
<code>hokusai login-link</code> logs you in without one.</p>
<input type="hidden" name="next" value="{next}">
<input type="hidden" name="fragment" id="fragment" value="">
<button type="submit">Log in</button>
</form>
</main>
<script>{script}</script>
</body>
</html>
"""


def local_target(candidate: str | None) -> str:
    """`candidate` if it is a path into MLflow's UI, else the UI's home: a login never sends
    anyone off the gateway (`https://…`, `//host`, `/\\host`)."""
    if (
        candidate
        and candidate.startswith(HOME)
        and all("!" <= character <= "~" for character in candidate)
        and "\\" not in candidate
        and "#" not in candidate
    ):
        return candidate
    return HOME


def page(target: str, *, error: str = "", notice: str = "", status: int = 200) -> Response:
    if error:
        message = f'<p class="error" role="alert">{html.escape(error)}</p>\n'
    elif notice:
        message = f'<p class="notice" role="status">{html.escape(notice)}</p>\n'
    else:
        message = ""
    body = _PAGE.format(
        style=_STYLE,
        script=_SCRIPT,
        message=message,
        action=LOGIN_PATH,
        next=html.escape(target),
    ).encode()
    response = Response(status=status, body=body, content_type="text/html; charset=utf-8")
    response.headers.extend(_SECURITY_HEADERS)
    return response


class _Refused(Exception):
    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


def _query_value(request: Request, name: str) -> str | None:
    values = parse_qs(request.query_string).get(name)
    return values[0] if values else None


async def _form(request: Request) -> dict[str, str]:
    """The fields of a small urlencoded form body."""
    content_type = (request.field(b"content-type") or b"").split(b";")[0].strip().lower()
    if content_type != b"application/x-www-form-urlencoded":
        raise _Refused(
            415, errors.BAD_REQUEST, "send the form as application/x-www-form-urlencoded"
        )
    length = request.content_length
    if length is None or length > MAX_FORM_BYTES:
        raise _Refused(
            413,
            errors.REQUEST_TOO_LARGE,
            f"the form must state its length, at most {MAX_FORM_BYTES} bytes",
        )
    body = b"".join([chunk async for chunk in request.body.chunks()]) if request.body else b""
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


class Login:
    """The handlers of the login endpoints; `routes` maps each path to its handler."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self.routes: dict[str, Handler] = {
            LOGIN_PATH: self.login,
            LOGOUT_PATH: self.logout,
            LINK_PATH: self.link,
        }

    async def login(self, request: Request) -> AnyResponse:
        """GET: the page (or, with a live session, straight on); POST: log in with a key."""
        if request.method in ("GET", "HEAD"):
            target = local_target(_query_value(request, "next"))
            session = session_id(request)
            if session is not None:
                try:
                    await self._sessions.authenticate(session)
                    return redirect(target)
                except Unauthenticated:
                    pass
            return page(target)
        target = HOME
        try:
            self._only(request, "POST")
            self._check_origin(request)
            form = await _form(request)
            target = local_target(form.get("next"))
            fragment = form.get("fragment", "")
            key, session = await self._sessions.log_in(form.get("key", "").strip())
        except _Refused as refused:
            return self._refusal(request, refused, target)
        except Unauthenticated as exc:
            log.warning("login refused", extra={"reason": str(exc)})
            invalid = _Refused(
                401, UNAUTHENTICATED, "That key is not valid: unknown, expired or revoked."
            )
            return self._refusal(request, invalid, target)
        log.info("session opened", extra={"key_id": key.id})
        if _FRAGMENT.fullmatch(fragment):
            target += fragment
        return redirect(target, self._sessions.cookie(request, session))

    async def logout(self, request: Request) -> AnyResponse:
        """End the session (GET or POST) and show the login page."""
        try:
            self._only(request, "GET", "POST")
            if request.method == "POST":
                self._check_origin(request)
        except _Refused as refused:
            return self._refusal(request, refused, HOME)
        session = session_id(request)
        if session is not None:
            await self._sessions.log_out(session)
        response = page(HOME, notice="You are logged out.")
        response.headers.add("Set-Cookie", self._sessions.expired_cookie(request))
        return response

    async def link(self, request: Request) -> AnyResponse:
        """Redeem a one-time login link (`hokusai login-link`) and go to MLflow's UI."""
        try:
            self._only(request, "GET")
            token = _query_value(request, "token") or ""
            session = await self._sessions.redeem(token) if 0 < len(token) <= 128 else None
            if session is None:
                raise _Refused(
                    401,
                    UNAUTHENTICATED,
                    f"This login link was used already or has expired: a link works once, "
                    f"within {LINK_SECONDS} s. Run `hokusai login-link` again.",
                )
        except _Refused as refused:
            return self._refusal(request, refused, HOME)
        return redirect(HOME, self._sessions.cookie(request, session))

    @staticmethod
    def _only(request: Request, *methods: str) -> None:
        if request.method not in methods:
            raise _Refused(
                405,
                errors.METHOD_NOT_ALLOWED,
                f"{request.method} is not allowed on {request.path}",
            )

    def _check_origin(self, request: Request) -> None:
        """A login or logout comes from the gateway's own page (login CSRF)."""
        foreign = self._sessions.foreign_origin(request)
        if foreign is not None:
            raise _Refused(
                403, PERMISSION_DENIED, f"refused a form sent from another site ({foreign})"
            )

    @staticmethod
    def _refusal(request: Request, refused: _Refused, target: str) -> Response:
        if b"text/html" in (request.field(b"accept") or b""):
            return page(target, error=str(refused), status=refused.status)
        return errors.json_error(refused.status, refused.error_code, str(refused))
