"""Prometheus metrics, aggregated across the gateway's worker processes.

Every package defines its metrics with `prometheus_client` next to the code that updates them.
`hokusai serve` points PROMETHEUS_MULTIPROC_DIR at a private directory before any metric is
created, so each worker writes its values to shared files and any worker can answer a scrape
with the sum over all of them. Gauges therefore need a `multiprocess_mode` ("livesum", "max"…).
"""

from __future__ import annotations

import os
import shutil
import tempfile

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> str | None:
    """Create the shared directory unless the operator chose one; returns it to remove later.

    Must run before `prometheus_client` creates any metric in this process.
    """
    if os.environ.get(MULTIPROCESS_DIR):
        return None
    directory = tempfile.mkdtemp(prefix="hokusai-metrics-")
    os.environ[MULTIPROCESS_DIR] = directory
    return directory


def remove_multiprocess_dir(directory: str | None) -> None:
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    # Imported here, not at the top: prometheus_client picks its value class (per-process
    # files or not) when first imported, which must be after prepare_multiprocess_dir().
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
