"""buildah for the image tests and bench/image_budget.py: a storage of their own, the images
deploy/images/build.sh builds there, and commands run from an image's own root filesystem."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from support.processes import Server

BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "images" / "build.sh"
BASE_LABEL = "org.opencontainers.image.base.name"


class BuildahError(RuntimeError):
    pass


@dataclass(frozen=True)
class Buildah:
    """buildah on a storage under `root`, vfs with chroot isolation: both work as root inside
    a container (no overlay mounts, no runc), and no image of the machine's is touched."""

    root: Path

    @classmethod
    def private(cls, root: Path) -> Buildah:
        root.mkdir(parents=True, exist_ok=True)
        (root / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{root / "graph"}"\n'
            f'runroot = "{root / "run"}"\n'
        )
        return cls(root)

    @property
    def env(self) -> dict[str, str]:
        return {
            "CONTAINERS_STORAGE_CONF": str(self.root / "storage.conf"),
            "BUILDAH_ISOLATION": "chroot",
        }

    def __call__(self, *args: str) -> str:
        done = _run(["buildah", *args], self.env)
        if done.returncode != 0:
            raise BuildahError(f"buildah {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def build(self, name: str) -> Image:
        """`deploy/images/build.sh --debian-base NAME`; the base is built by the first call."""
        done = _run(
            [str(BUILD_SCRIPT), "--debian-base", name], {**self.env, "PYTHON": sys.executable}
        )
        if done.returncode != 0:
            raise BuildahError(f"build.sh {name} failed:\n{done.stderr[-3000:]}")
        return Image(self, done.stdout.split()[-1])

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _run(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True)


@dataclass(frozen=True)
class Image:
    buildah: Buildah
    name: str

    @cached_property
    def inspect(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.buildah("inspect", "--type", "image", self.name))
        return found

    @property
    def config(self) -> dict[str, Any]:
        """The image's configuration, as Docker (and ECS) read it."""
        config: dict[str, Any] = self.inspect["Docker"]["config"]
        return config

    @property
    def uid(self) -> int:
        return int(self.config["User"].split(":")[0])

    def layers(self) -> dict[str, int]:
        """Each layer's digest and uncompressed size, in bytes."""
        manifest = json.loads(self.inspect["Manifest"])
        return {layer["digest"]: layer["size"] for layer in manifest["layers"]}

    def added_bytes(self) -> int:
        """What this image adds to its base: its own layers' uncompressed size."""
        base = Image(self.buildah, self.config["Labels"][BASE_LABEL]).layers()
        return sum(size for digest, size in self.layers().items() if digest not in base)

    @contextmanager
    def container(self) -> Iterator[Container]:
        name = self.buildah("from", "--quiet", self.name).strip()
        try:
            yield Container(self.buildah, name)
        finally:
            self.buildah("rm", name)


@dataclass(frozen=True)
class Container:
    """A working container: each command runs from the image's root filesystem, as the image's
    user, with its environment and working directory, on the host's network (loopback)."""

    buildah: Buildah
    name: str

    def argv(self, command: Sequence[str], env: Mapping[str, str]) -> list[str]:
        settings = [f"--env={name}={value}" for name, value in env.items()]
        return ["buildah", "run", "--network=host", *settings, self.name, "--", *command]

    def run(
        self, command: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return _run(self.argv(command, env or {}), self.buildah.env)

    def start(self, command: Sequence[str], env: Mapping[str, str], log: Path) -> Server:
        return Server(argv=self.argv(command, env), log=log, env=self.buildah.env).start()


def descendants(pid: int) -> Iterator[int]:
    """A process's descendants, each before its own children (Linux /proc). Every thread's
    children: buildah, in Go, forks from whichever thread runs."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            yield int(child)
            yield from descendants(int(child))


def command_name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def uids(pid: int) -> set[int]:
    """The real, effective, saved and filesystem user ids of a process."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    line = next(line for line in status if line.startswith("Uid:"))
    return {int(uid) for uid in line.split()[1:]}
