"""What the browser tests share with their fixtures: the MLflow UI under test, and the
screenshots a failing test leaves behind."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.tracking import MlflowClient
from playwright.sync_api import Error, Page

from support.secured import Keys

ARTIFACT_TEXT = "hello from the artifact preview"


@dataclass
class MlflowUi:
    """The gateway, its keys, and what was logged to MLflow through it before the tests."""

    gateway: str
    keys: Keys
    client: MlflowClient  # with the admin key
    experiment_id: str
    run_id: str
    run_name: str
    model_name: str

    def url(self, path: str) -> str:
        return self.gateway + path


@dataclass
class Screenshots:
    """Screenshots kept in memory, written out only if the test fails."""

    taken: dict[str, bytes] = field(default_factory=dict)
    pages: list[Page] = field(default_factory=list)

    def take(self, name: str, page: Page) -> None:
        self.taken[name] = page.screenshot(full_page=True)

    def save(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="hokusai-browser-"))
        for name, image in self.taken.items():
            (directory / f"{name.replace(' ', '-')}.png").write_bytes(image)
        for number, page in enumerate(self.pages, 1):
            with contextlib.suppress(Error):  # closed with its context
                page.screenshot(path=directory / f"at-the-end-{number}.png", full_page=True)
        return directory
