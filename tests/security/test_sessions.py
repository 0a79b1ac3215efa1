"""Browser sessions at the socket: the cookie's flags, CSRF, the login redirects, logout.

Against a secured gateway in front of an upstream that records what reaches it (MLflow's UI
itself is driven by the browser tests, tests/browser).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from support.echo_upstream import EchoUpstream
from support.secured import GENEROUS, Keys, exchange

from hokusai_platform.gateway.login import local_target
from hokusai_platform.gateway.sessions import COOKIE, is_own_origin
from hokusai_platform.keys.scopes import Scope
from hokusai_platform.keys.sessions import SessionStore

SEARCH = "/api/mlflow/api/2.0/mlflow/experiments/search?max_results=1"
CREATE = "/api/mlflow/ajax-api/2.0/mlflow/experiments/create"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def gateway(guarded_echo: tuple[str, Path]) -> str:
    return guarded_echo[0]


@pytest.fixture
def origin(gateway: str) -> dict[str, str]:
    return {"Origin": gateway}


def log_in(gateway: str, key: str, **fields: str) -> tuple[int, Message]:
    form = urlencode({"key": key, **fields}).encode()
    status, headers, _ = exchange(
        gateway, "POST", "/login", {**BROWSER, **FORM, "Origin": gateway}, form
    )
    return status, headers


def session_of(headers: Message) -> str:
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}="), cookie
    return cookie.split(";")[0].split("=", 1)[1]


@pytest.fixture
def session(gateway: str, keys: Keys) -> str:
    status, headers = log_in(gateway, keys.write)
    assert status == 303
    return session_of(headers)


def cookie(session: str) -> dict[str, str]:
    return {"Cookie": f"theme=dark; {COOKIE}={session}"}


@pytest.fixture
def nothing_reaches_mlflow(echo: EchoUpstream) -> Iterator[None]:
    before = len(echo.received)
    yield
    assert len(echo.received) == before, [r.path for r in echo.received[before:]]


def error_code(body: bytes) -> str:
    error = json.loads(body)
    assert error["message"]
    return str(error["error_code"])


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_a_page_request_without_a_key_goes_to_the_login_page(gateway: str) -> None:
    status, headers, _ = exchange(gateway, "GET", "/api/mlflow/?o=1", BROWSER)
    assert status == 303
    assert headers["Location"] == "/login?next=%2Fapi%2Fmlflow%2F%3Fo%3D1"
    status, headers, body = exchange(gateway, "GET", headers["Location"], BROWSER)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'name="next" value="/api/mlflow/?o=1"' in body
    assert "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert b"<script src" not in body and b"<link" not in body  # no external asset


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "*/*"},
        {**BROWSER, "Authorization": "Bearer hk_live_x"},
        {**BROWSER, "X-API-Key": "x"},
    ],
    ids=["no-html", "bearer", "x-api-key"],
)
@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_programs_get_the_json_401_with_one_challenge_per_line(
    gateway: str, headers: dict[str, str]
) -> None:
    status, answer, body = exchange(gateway, "GET", "/api/mlflow/", headers)
    assert status == 401 and error_code(body) == "UNAUTHENTICATED"
    assert answer.get_all("WWW-Authenticate") == ['Bearer realm="hokusai"', 'Basic realm="hokusai"']


def test_a_browser_at_the_root_goes_to_mlflows_ui(gateway: str) -> None:
    status, headers, _ = exchange(gateway, "GET", "/", BROWSER)
    assert (status, headers["Location"]) == (303, "/api/mlflow/")
    status, _, body = exchange(gateway, "GET", "/", {"Accept": "application/json"})
    assert status == 200 and json.loads(body)["service"] == "hokusai-registry-api"


def test_login_sets_a_strict_cookie_and_returns_where_the_person_was_going(
    gateway: str, keys: Keys
) -> None:
    status, headers = log_in(
        gateway, keys.write, next="/api/mlflow/?o=1", fragment="#/experiments/1/runs/abc"
    )
    assert (status, headers["Location"]) == (303, "/api/mlflow/?o=1#/experiments/1/runs/abc")
    flags = [flag.strip() for flag in headers["Set-Cookie"].split(";")[1:]]
    assert sorted(flags) == sorted(["Path=/", "Max-Age=43200", "HttpOnly", "SameSite=Lax"])
    assert session_of(headers) != keys.write


def test_the_cookie_is_secure_behind_https(gateway: str, keys: Keys) -> None:
    form = urlencode({"key": keys.read}).encode()
    headers = {**BROWSER, **FORM, "Origin": gateway, "X-Forwarded-Proto": "https"}
    status, answer, _ = exchange(gateway, "POST", "/login", headers, form)
    assert status == 303 and "; Secure" in answer["Set-Cookie"]


def test_the_session_stands_for_its_key_and_its_cookie_stays_here(
    gateway: str, session: str, echo: EchoUpstream
) -> None:
    status, headers, _ = exchange(gateway, "GET", SEARCH, cookie(session))
    assert status == 200 and int(headers["RateLimit-Limit"]) == GENEROUS.limit
    assert "cookie" not in {name.lower() for name in echo.last().headers}
    status, _, body = exchange(
        gateway, "GET", "/api/mlflow/ajax-api/2.0/mlflow/users/current", cookie(session)
    )
    assert status == 200
    user = json.loads(body)
    assert user["user"]["username"] == "writer (write)" and user["user"]["scope"] == "write"
    assert user["is_basic_auth"] is False


@pytest.mark.parametrize(
    "next_",
    ["https://evil.example", "//evil.example", "/\\evil.example", "/login", "javascript:x()",
     "/api/mlflow/\\\\evil.example", "/api/mlflow/ x", "/api/mlflow/#/x"],
)  # fmt: skip
def test_a_login_never_sends_anyone_elsewhere(gateway: str, keys: Keys, next_: str) -> None:
    status, headers = log_in(gateway, keys.read, next=next_, fragment="#/models")
    assert (status, headers["Location"]) == (303, "/api/mlflow/#/models")
    _, _, body = exchange(gateway, "GET", "/login?" + urlencode({"next": next_}), BROWSER)
    assert b'name="next" value="/api/mlflow/"' in body


def test_only_paths_into_mlflows_ui_are_targets() -> None:
    assert local_target("/api/mlflow/experiments?x=1") == "/api/mlflow/experiments?x=1"
    assert local_target(None) == local_target("/health") == "/api/mlflow/"


@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_a_wrong_key_shows_the_page_again_to_a_person_and_json_to_a_program(
    gateway: str, keys: Keys
) -> None:
    for key in ("hk_live_nonsense", keys.revoked, keys.expired):
        status, headers = log_in(gateway, key)
        assert status == 401 and "Set-Cookie" not in headers
    form = urlencode({"key": keys.revoked}).encode()
    status, _, body = exchange(gateway, "POST", "/login", {**FORM, "Origin": gateway}, form)
    assert status == 401 and error_code(body) == "UNAUTHENTICATED"


def test_a_login_form_from_another_site_is_refused(gateway: str, keys: Keys) -> None:
    form = urlencode({"key": keys.write}).encode()
    for source in ({"Origin": "http://evil.example"}, {}):
        status, headers, body = exchange(gateway, "POST", "/login", {**FORM, **source}, form)
        assert status == 403 and error_code(body) == "PERMISSION_DENIED"
        assert "Set-Cookie" not in headers


@pytest.mark.parametrize(
    "source",
    [{}, {"Origin": "http://evil.example"}, {"Origin": "null"},
     {"Referer": "http://evil.example/api/mlflow/"}, {"Origin": "http://127.0.0.1.evil.example"}],
    ids=["none", "foreign", "null", "foreign-referer", "lookalike"],
)  # fmt: skip
@pytest.mark.usefixtures("nothing_reaches_mlflow")
def test_a_cross_origin_write_with_the_cookie_is_403(
    gateway: str, session: str, source: dict[str, str]
) -> None:
    headers = {**cookie(session), **source, "Content-Type": "application/json"}
    status, _, body = exchange(gateway, "POST", CREATE, headers, b'{"name": "csrf"}')
    assert status == 403 and error_code(body) == "PERMISSION_DENIED"


def test_writes_from_the_gateways_own_pages_pass(
    gateway: str, session: str, echo: EchoUpstream
) -> None:
    port = urlsplit(gateway).port
    for source in ({"Origin": gateway}, {"Referer": f"http://localhost:{port}/api/mlflow/"}):
        headers = {**cookie(session), **source, "Content-Type": "application/json"}
        status, _, _ = exchange(gateway, "POST", CREATE, headers, b'{"name": "mine"}')
        assert status == 200 and echo.last().path == "/ajax-api/2.0/mlflow/experiments/create"


def test_requests_with_a_key_are_not_subject_to_the_origin_check(gateway: str, keys: Keys) -> None:
    headers = {"Authorization": f"Bearer {keys.write}", "Origin": "http://evil.example"}
    status, _, _ = exchange(gateway, "POST", CREATE, headers, b'{"name": "keyed"}')
    assert status == 200


@pytest.mark.parametrize(
    ("claimed", "host", "allowed", "own"),
    [
        ("http://127.0.0.1:8001", "127.0.0.1:8001", (), True),
        ("http://127.0.0.1:8002", "127.0.0.1:8001", (), False),
        ("https://registry.example", "registry.example", (), True),
        ("https://registry.example:443", "registry.example", (), True),
        ("http://registry.example", "registry.example:8001", (), False),
        ("https://registry.example/page", "internal:8001", ("registry.example",), True),
        ("https://evil.example", "registry.example", ("registry.example",), False),
        ("http://[::1]:8001", "[::1]:8001", (), True),
        ("http://[::1]:8001", "x", ("[::1]",), True),
        ("null", "registry.example", (), False),
        ("file:///etc/passwd", "", (), False),
        ("http://registry.example:99999", "registry.example", (), False),
    ],
)
def test_own_origins(claimed: str, host: str, allowed: tuple[str, ...], own: bool) -> None:
    assert is_own_origin(claimed, host, frozenset(allowed)) is own


def test_logout_ends_the_session_at_once(
    gateway: str, session: str, origin: dict[str, str]
) -> None:
    assert exchange(gateway, "GET", SEARCH, cookie(session))[0] == 200
    status, headers, body = exchange(
        gateway, "POST", "/logout", {**BROWSER, **cookie(session), **origin}
    )
    assert status == 200 and b"You are logged out." in body
    assert headers["Set-Cookie"].startswith(f"{COOKIE}=; Path=/; Max-Age=0;")
    status, headers, _ = exchange(gateway, "GET", SEARCH, cookie(session))
    # No Basic challenge: the browser would prompt for a password over MLflow's UI.
    assert status == 401 and headers.get_all("WWW-Authenticate") == ['Bearer realm="hokusai"']
    status, headers, _ = exchange(gateway, "GET", "/api/mlflow/", {**BROWSER, **cookie(session)})
    assert status == 303 and headers["Location"].startswith("/login?")
    assert "Max-Age=0" in headers["Set-Cookie"]  # the stale cookie is forgotten


def test_a_session_id_is_not_a_key(gateway: str, session: str) -> None:
    status, _, _ = exchange(gateway, "GET", SEARCH, {"Authorization": f"Bearer {session}"})
    assert status == 401


def test_a_key_is_not_a_session(gateway: str, keys: Keys) -> None:
    assert exchange(gateway, "GET", SEARCH, cookie(keys.admin))[0] == 401


def test_revoking_or_rotating_the_key_ends_its_sessions_within_a_second(
    gateway: str, keys: Keys
) -> None:
    for end in (keys.store.revoke, keys.store.rotate):
        issued = keys.store.create("soon-gone", Scope.READ, GENEROUS)
        _, headers = log_in(gateway, issued.secret)
        session = session_of(headers)
        assert exchange(gateway, "GET", SEARCH, cookie(session))[0] == 200
        end(issued.info.id)
        ended_at = time.monotonic()
        while exchange(gateway, "GET", SEARCH, cookie(session))[0] == 200:
            assert time.monotonic() - ended_at < 1.0, f"{end.__name__}: accepted after 1 s"
            time.sleep(0.02)


def test_a_login_link_logs_in_once(gateway: str, keys: Keys) -> None:
    admin = keys.store.find(keys.admin)
    assert admin is not None
    token = SessionStore(keys.store.engine).create_link(admin, keys.admin)
    path = "/login/link?" + urlencode({"token": token})
    status, headers, _ = exchange(gateway, "GET", path, BROWSER)
    assert (status, headers["Location"]) == (303, "/api/mlflow/")
    assert exchange(gateway, "GET", SEARCH, cookie(session_of(headers)))[0] == 200
    status, headers, body = exchange(gateway, "GET", path, BROWSER)
    assert status == 401 and b"used already or has expired" in body
    assert "Set-Cookie" not in headers
    status, _, body = exchange(gateway, "GET", path)
    assert status == 401 and error_code(body) == "UNAUTHENTICATED"
