"""Steady load from the stock MLflow client, through the load balancer.

`TRACKERS` threads each log runs one after another, as training jobs do: create a run, log a
parameter, a batch of metrics and one more metric, end it, read it back. One more thread moves
a 64 MiB artifact over and over: logs it to a run of its own, downloads it into an empty
directory and compares its sha256 with the original's. The client's own retries are off
(`MLFLOW_HTTP_REQUEST_MAX_RETRIES=0`): a request that fails is counted, never quietly repeated.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from unittest import mock

from mlflow import MlflowClient
from mlflow.entities import Metric

ARTIFACT_BYTES = 64 * 1024 * 1024
TRACKERS = 4
EXPERIMENT = "rehearsal"
T = TypeVar("T")


class _Counted(Exception):
    """A call failed and is counted already: its step ends there, and the next begins."""


@dataclass
class LoadTally:
    """What the client saw."""

    calls: Counter[str] = field(default_factory=Counter)  # client calls that succeeded, by name
    failures: list[str] = field(default_factory=list)  # each failed call: name and error
    artifacts: int = 0  # round trips whose download matched the upload
    artifact_bytes_verified: int = 0
    mismatches: int = 0  # downloads whose sha256 differs
    transfers: list[tuple[float, float]] = field(default_factory=list)  # monotonic spans

    def spanning(self, moment: float) -> int:
        """How many artifact round trips were under way at `moment`."""
        return sum(began <= moment <= ended for began, ended in self.transfers)


class MlflowLoad:
    """The load, in threads of its own from `with` to the end of the block."""

    def __init__(self, tracking_uri: str, key: str, directory: Path) -> None:
        self._uri = tracking_uri
        self._directory = directory
        self._artifact = directory / "model.bin"
        self._sha256 = ""
        self._experiment = ""
        self._environment = mock.patch.dict(
            os.environ,
            {
                "MLFLOW_TRACKING_TOKEN": key,
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
            },
        )
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._repeat, args=(self._track,), daemon=True)
            for _ in range(TRACKERS)
        ]
        self._threads.append(
            threading.Thread(target=self._repeat, args=(self._move_artifact,), daemon=True)
        )
        self.tally = LoadTally()

    def __enter__(self) -> MlflowLoad:
        with self._artifact.open("wb") as sink:
            for _ in range(ARTIFACT_BYTES // 2**20):
                sink.write(os.urandom(2**20))
        self._sha256 = _sha256(self._artifact)
        self._environment.start()
        try:
            self._experiment = MlflowClient(self._uri).create_experiment(EXPERIMENT)
        except BaseException:
            self._environment.stop()
            raise
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=120)
        self._environment.stop()

    def _repeat(self, step: Callable[[MlflowClient], None]) -> None:
        client = MlflowClient(self._uri)
        while not self._stopping.is_set():
            try:
                step(client)
            except _Counted:
                pass
            except Exception as exc:  # every failure counts, whatever raised it
                self._fail(step.__name__, exc)

    def _call(self, name: str, call: Callable[[], T]) -> T:
        try:
            result = call()
        except Exception as exc:
            self._fail(name, exc)
            raise _Counted from exc
        with self._lock:
            self.tally.calls[name] += 1
        return result

    def _fail(self, name: str, exc: Exception) -> None:
        last = traceback.format_exception_only(exc)[-1].strip()
        with self._lock:
            self.tally.failures.append(f"{name}: {last[:300]}")

    def _track(self, client: MlflowClient) -> None:
        run = self._call("create_run", lambda: client.create_run(self._experiment))
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(f"loss_{n}", 1.0 / (n + 1), now, 0) for n in range(10)]
        self._call("log_param", lambda: client.log_param(run_id, "learning_rate", "0.01"))
        self._call("log_batch", lambda: client.log_batch(run_id, metrics=metrics))
        self._call("log_metric", lambda: client.log_metric(run_id, "accuracy", 0.9, now, 1))
        self._call("set_terminated", lambda: client.set_terminated(run_id))
        self._call("get_run", lambda: client.get_run(run_id))

    def _move_artifact(self, client: MlflowClient) -> None:
        began = time.monotonic()
        run_id = self._call("create_run", lambda: client.create_run(self._experiment)).info.run_id
        self._call("log_artifact", lambda: client.log_artifact(run_id, str(self._artifact)))
        target = self._directory / run_id
        target.mkdir()
        try:
            self._call(
                "download_artifacts",
                lambda: client.download_artifacts(run_id, self._artifact.name, str(target)),
            )
            intact = _sha256(target / self._artifact.name) == self._sha256
        finally:
            shutil.rmtree(target)
        with self._lock:
            self.tally.transfers.append((began, time.monotonic()))
            if intact:
                self.tally.artifacts += 1
                self.tally.artifact_bytes_verified += ARTIFACT_BYTES
            else:
                self.tally.mismatches += 1


def _sha256(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()
