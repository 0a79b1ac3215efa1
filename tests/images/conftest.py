from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from support.buildah import Buildah, Container, Image


@pytest.fixture(scope="session")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    """A storage for this session's images, removed after it (vfs keeps full copies)."""
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (.ci/run installs it from Debian)")
    storage = Buildah.private(tmp_path_factory.mktemp("buildah"))
    yield storage
    storage.remove()


@pytest.fixture(scope="session")
def api_image(buildah: Buildah) -> Image:
    return buildah.build("api")


@pytest.fixture(scope="session")
def mlflow_image(buildah: Buildah) -> Image:
    return buildah.build("mlflow")


@pytest.fixture(scope="session")
def api(api_image: Image) -> Iterator[Container]:
    """One working container for the API's tests: with vfs, each one is a copy of the image."""
    with api_image.container() as container:
        yield container
