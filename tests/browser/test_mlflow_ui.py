"""A person uses MLflow's UI through the gateway, in Chromium: logs in with a key, browses,
creates, is refused what the key may not do, and logs out; a revoked key's session ends."""

from __future__ import annotations

import http.client
import json
import re
import time
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from support.browser import ARTIFACT_TEXT, MlflowUi, Screenshots
from support.processes import free_port
from support.secured import GENEROUS

from hokusai_platform.gateway.sessions import COOKIE
from hokusai_platform.keys.scopes import Scope

LOGIN_HEADING = "Log in to the Hokusai registry"


def log_in(page: Page, key: str) -> None:
    """On the login page: paste the key and submit; wait to be back in MLflow's UI."""
    expect(page.get_by_role("heading", name=LOGIN_HEADING)).to_be_visible()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/api/mlflow/"))


def open_as(page: Page, ui: MlflowUi, key: str, fragment: str) -> None:
    """Open a place in MLflow's UI, which asks for the login first."""
    page.goto(ui.url(f"/api/mlflow/{fragment}"))
    log_in(page, key)
    expect(page).to_have_url(ui.url(f"/api/mlflow/{fragment}"))


def create_experiment(page: Page, ui: MlflowUi, key: str, name: str) -> None:
    open_as(page, ui, key, "#/experiments")
    page.get_by_role("button", name="Create", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Experiment Name").fill(name)
    dialog.get_by_role("button", name="Create", exact=True).click()


def status_in_page(page: Page, path: str) -> int:
    """The status a request from the page gets (with its cookie, as MLflow's UI sends it)."""
    fetch = f"fetch({json.dumps(path)}, {{signal: AbortSignal.timeout(10000)}})"
    return int(page.evaluate(f"{fetch}.then(answer => answer.status)"))


def test_logging_in_returns_to_the_runs_list(ui: MlflowUi, page: Page, shots: Screenshots) -> None:
    runs = ui.url(f"/api/mlflow/#/experiments/{ui.experiment_id}/runs")
    page.goto(runs)
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fapi%2Fmlflow%2F#/experiments/"))
    shots.take("login page", page)
    log_in(page, ui.keys.write)
    expect(page).to_have_url(runs)  # MLflow's `#/…` part survived the login
    expect(page.get_by_text(ui.run_name).first).to_be_visible()
    shots.take("runs list", page)
    # MLflow's account menu shows who is logged in: the key's name and scope.
    expect(page.get_by_role("button", name="Account menu for writer (write)")).to_be_visible()


def test_an_artifact_previews(ui: MlflowUi, page: Page) -> None:
    artifacts = f"#/experiments/{ui.experiment_id}/runs/{ui.run_id}/artifacts"
    open_as(page, ui, ui.keys.read, artifacts)
    page.get_by_text("notes.txt").first.click()
    expect(page.get_by_text(ARTIFACT_TEXT)).to_be_visible()


def test_the_model_registry_lists_a_registered_model(ui: MlflowUi, page: Page) -> None:
    open_as(page, ui, ui.keys.read, "#/models")
    expect(page.get_by_text(ui.model_name).first).to_be_visible()


def test_creating_an_experiment_works(ui: MlflowUi, page: Page) -> None:
    name = f"made-in-the-browser-{free_port()}"
    create_experiment(page, ui, ui.keys.write, name)
    page.wait_for_url(re.compile(r"#/experiments/\d+"))
    created = ui.client.get_experiment_by_name(name)
    assert created is not None
    assert page.url.split("#/experiments/")[1].startswith(created.experiment_id)


def test_a_read_key_may_not_create_and_the_person_reads_why(ui: MlflowUi, page: Page) -> None:
    name = f"not-for-readers-{free_port()}"
    create_experiment(page, ui, ui.keys.read, name)
    refusal = page.get_by_role("dialog").get_by_text(re.compile("has scope read"))
    expect(refusal).to_contain_text("POST /ajax-api/2.0/mlflow/experiments/create needs write")
    assert ui.client.get_experiment_by_name(name) is None


def test_logout_ends_the_session(ui: MlflowUi, page: Page, context: BrowserContext) -> None:
    open_as(page, ui, ui.keys.read, "#/models")
    session = next(c["value"] for c in context.cookies() if c["name"] == COOKIE)
    page.goto(ui.url("/logout"))
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    page.goto(ui.url("/api/mlflow/#/models"))
    expect(page.get_by_role("heading", name=LOGIN_HEADING)).to_be_visible()
    # Ended at the gateway, not only forgotten by the browser.
    parts = urlsplit(ui.gateway)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", "/api/mlflow/ajax-api/2.0/mlflow/users/current",
                       headers={"Cookie": f"{COOKIE}={session}"})  # fmt: skip
    assert connection.getresponse().status == 401
    connection.close()


def test_revoking_the_key_ends_a_live_session_within_a_second(ui: MlflowUi, page: Page) -> None:
    issued = ui.keys.store.create("soon-revoked", Scope.READ, GENEROUS)
    open_as(page, ui, issued.secret, "#/models")
    expect(page.get_by_text(ui.model_name).first).to_be_visible()
    whoami = "ajax-api/2.0/mlflow/users/current"
    assert status_in_page(page, whoami) == 200
    ui.keys.store.revoke(issued.info.id)
    revoked_at = time.monotonic()
    while status_in_page(page, whoami) == 200:
        assert time.monotonic() - revoked_at < 1.0, "the session outlived its key by a second"
    page.reload()
    expect(page.get_by_role("heading", name=LOGIN_HEADING)).to_be_visible()


def test_a_cross_origin_post_with_the_cookie_is_403(
    ui: MlflowUi, page: Page, context: BrowserContext
) -> None:
    open_as(page, ui, ui.keys.write, "#/experiments")
    # Another origin of the same site (another port on the same host): the browser sends
    # the SameSite=Lax cookie with its form, and only the Origin check stands in the way.
    attacker = f"http://127.0.0.1:{free_port()}/"
    create = ui.url("/api/mlflow/ajax-api/2.0/mlflow/experiments/create")
    form = (
        f'<form method="post" action="{create}" enctype="text/plain">'
        '<input name=\'{"name": "csrf", "x": "\' value=\'"}\'></form>'
        "<script>document.forms[0].submit()</script>"
    )
    context.route(attacker, lambda route: route.fulfill(body=form, content_type="text/html"))
    with page.expect_response(create) as answer:
        page.goto(attacker)
    assert answer.value.status == 403
    assert answer.value.json()["error_code"] == "PERMISSION_DENIED"
    assert ui.client.get_experiment_by_name("csrf") is None


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example"])
def test_a_login_does_not_send_the_person_off_site(
    ui: MlflowUi, page: Page, off_loopback: list[str], target: str
) -> None:
    page.goto(ui.url(f"/login?next={quote(target, safe='')}"))
    log_in(page, ui.keys.read)
    expect(page).to_have_url(ui.url("/api/mlflow/"))
    assert off_loopback == []
