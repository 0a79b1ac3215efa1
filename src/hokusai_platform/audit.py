"""The audit log: one JSON line per authenticated request, to stderr or to a file.

It is a logger of its own (`hokusai.audit`) that does not propagate, so its lines go only to
the configured sink whatever the application's log configuration is. Files are opened in
append mode; each worker process writes whole lines, which O_APPEND keeps intact.
"""

from __future__ import annotations

import logging
import sys

from hokusai_platform.logs import JSONFormatter


class AuditLog:
    def __init__(self, sink: str) -> None:
        """`sink` is "stderr" or the path of a file to append to."""
        handler: logging.Handler = (
            logging.StreamHandler(sys.stderr)
            if sink == "stderr"
            else logging.FileHandler(sink, mode="a", encoding="utf-8")
        )
        handler.setFormatter(JSONFormatter())
        self._logger = logging.getLogger("hokusai.audit")
        self._logger.handlers[:] = [handler]
        self._logger.setLevel(logging.INFO)
        self._logger.propagate = False

    def record(
        self,
        *,
        request_id: str,
        key_id: str,
        scope: str,
        method: str,
        route_family: str,
        status: int,
        bytes_in: int,
        bytes_out: int,
        latency_ms: float,
    ) -> None:
        self._logger.info(
            "request",
            extra={
                "request_id": request_id,
                "key_id": key_id,
                "scope": scope,
                "method": method,
                "route_family": route_family,
                "status": status,
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                "latency_ms": latency_ms,
            },
        )

    def close(self) -> None:
        for handler in self._logger.handlers:
            handler.close()
