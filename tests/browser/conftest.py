"""Real Chromium (Debian's, driven by Playwright) against a real gateway in front of a real MLflow.

Every browser context refuses requests that would leave loopback, and records them. When a
test fails, the screenshots it took (the login page, the runs list) and one of each of its
pages as they were at the end are saved to a temporary directory named in the failure.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from mlflow.tracking import MlflowClient
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright
from support.browser import ARTIFACT_TEXT, MlflowUi, Screenshots
from support.processes import start_gateway
from support.secured import create_keys, secured_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# MLflow's UI is megabytes of JavaScript: on a busy machine its first paint takes a while.
TIMEOUT_MS = 90_000
# The context's timeout bounds actions; `expect` has its own (5 s unless told).
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def ui(
    mlflow_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowUi]:
    directory = tmp_path_factory.mktemp("browser")
    keys = create_keys(directory)
    env = secured_env(keys, redis_url, MLFLOW_SERVER_URL=mlflow_url)
    server, gateway = start_gateway(directory / "gateway.log", env)
    suffix = secrets.token_hex(3)  # the MLflow server is shared with other tests
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_TOKEN", keys.write)
            writer = MlflowClient(f"{gateway}/api/mlflow")
            experiment_id = writer.create_experiment(f"browser-{suffix}")
            run = writer.create_run(experiment_id, run_name=f"run-{suffix}")
            writer.log_metric(run.info.run_id, "loss", 0.25)
            notes = directory / "notes.txt"
            notes.write_text(ARTIFACT_TEXT + "\n")
            writer.log_artifact(run.info.run_id, str(notes))
            writer.set_terminated(run.info.run_id)
            writer.create_registered_model(f"model-{suffix}")
            patch.setenv("MLFLOW_TRACKING_TOKEN", keys.admin)
            yield MlflowUi(
                gateway=gateway,
                keys=keys,
                client=writer,
                experiment_id=experiment_id,
                run_id=run.info.run_id,
                run_name=f"run-{suffix}",
                model_name=f"model-{suffix}",
            )
    finally:
        server.stop()
        keys.store.close()


# Module scope: Playwright's sync API runs an event loop in this thread while it is started, and
# every later test calling asyncio.run() would fail ("cannot be called from a running event loop").
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def shots() -> Screenshots:
    return Screenshots()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    screenshots = getattr(item, "funcargs", {}).get("shots")
    if report.when == "call" and report.failed and isinstance(screenshots, Screenshots):
        report.sections.append(("screenshots", f"saved in {screenshots.save()}"))
    return report


@pytest.fixture
def off_loopback() -> list[str]:
    """The URLs off loopback the browser tried to reach (and was refused)."""
    return []


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


@pytest.fixture
def context(browser: Browser, off_loopback: list[str]) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)

    def refuse(route: Route) -> None:
        off_loopback.append(route.request.url)
        route.abort()

    context.route(lambda url: not _is_loopback(url), refuse)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, shots: Screenshots) -> Page:
    opened = context.new_page()
    shots.pages.append(opened)
    return opened
