"""What one local stack is: its data directory, its ports, and where each file lives."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hokusai_platform.settings import database_url

NAMESPACE = "hokusai-development.local"


@dataclass(frozen=True)
class Ports:
    gateway: int = 8001
    mlflow: int = 5000
    redis: int = 6379
    # As `hokusai discovery serve`, so `hokusai discovery list` finds the stack's instances.
    dns: int = 5300
    discovery: int = 5380


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    ports: Ports = Ports()
    namespace: str = NAMESPACE

    def dns_name(self, service: str) -> str:
        return f"{service}.{self.namespace}"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def mlflow_dir(self) -> Path:
        return self.data_dir / "mlflow"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "stack.json"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "stack.lock"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "local-api-key"

    @property
    def database_url(self) -> str:
        """The keys database: `HOKUSAI_DATABASE_URL`, else SQLite in the data dir."""
        return database_url({**os.environ, "HOKUSAI_DATA_DIR": str(self.data_dir)})

    def log_file(self, service: str) -> Path:
        return self.logs_dir / f"{service}.log"
