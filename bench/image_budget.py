"""The registry API image's budgets (issue 22): it adds at most 120 MB to its base, and goes
from start to answering `/health/live` in at most 2 s.

The image is built as the tests build it (deploy/images/build.sh --debian-base, buildah with
vfs storage and chroot isolation), in a storage of its own. "Added" is the uncompressed size of
the image's layers that are not its base's. "Start" is timed from launching `buildah run` with
the image's command (`hokusai serve`, its default workers) to the first 200 from
`/health/live`, polled every 10 ms; each run starts a fresh working container, so its keys
database is created and migrated as on a new ECS task.

Usage: .venv/bin/python bench/image_budget.py [--runs 5] [--storage DIR]
(--storage keeps that storage, and with it the base, for the next run.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import require
from support.buildah import Buildah, Image
from support.processes import free_port

START_TIMEOUT = 60.0


def live_at(url: str, deadline: float) -> float:
    """The monotonic time of `url`'s first 200, polled every 10 ms."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return time.monotonic()
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.01)
    raise TimeoutError(f"{url} not live in time")


def seconds_to_live(image: Image, log: Path) -> float:
    port = free_port()
    env = {"HOKUSAI_PORT": str(port), "MLFLOW_SERVER_URL": f"http://127.0.0.1:{free_port()}"}
    with image.container() as container:
        began = time.monotonic()
        server = container.start(image.config["Cmd"], env, log)
        try:
            live = live_at(f"http://127.0.0.1:{port}/health/live", began + START_TIMEOUT)
        finally:
            server.stop()
    return live - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--storage", type=Path, help="buildah storage to build in and keep")
    args = parser.parse_args()
    require("buildah", "debootstrap")
    with tempfile.TemporaryDirectory(prefix="hokusai-image-budget-") as scratch:
        buildah = Buildah.private(args.storage or Path(scratch) / "buildah")
        began = time.monotonic()
        image = buildah.build("api")
        print(f"built {image.name} in {time.monotonic() - began:.0f} s")
        added = image.added_bytes()
        total = sum(image.layers().values())
        print(f"adds {added / 1e6:.1f} MB to its base ({total / 1e6:.1f} MB in all; budget 120)")
        logs = Path(scratch)
        starts = [seconds_to_live(image, logs / f"api-{run}.log") for run in range(args.runs)]
        median = statistics.median(starts)
        print(
            f"start to /health/live over {args.runs} runs: median {median:.2f} s,"
            f" min {min(starts):.2f} s, max {max(starts):.2f} s (budget 2)"
        )


if __name__ == "__main__":
    main()
