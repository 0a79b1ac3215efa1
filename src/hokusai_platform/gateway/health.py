"""Health of the gateway's dependencies, probed with a timeout and cached briefly.

A burst of health checks costs one probe: callers that arrive while a probe is running wait
for its result instead of starting their own. MLflow is probed at the endpoint discovery would
pick for a request, so the probe sees what traffic sees.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Literal

from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.gateway.proxy import MAX_ATTEMPTS, MlflowProxy
from hokusai_platform.http.errors import ClientError, ConnectError

Status = Literal["healthy", "degraded", "unhealthy"]


@dataclass(frozen=True)
class DependencyHealth:
    status: Status
    endpoint: str
    latency_ms: float | None
    version: str | None
    last_error: str | None
    checked_at: float

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class MlflowHealth:
    def __init__(
        self,
        proxy: MlflowProxy,
        *,
        timeout: float,
        cache_seconds: float,
    ) -> None:
        self._proxy = proxy
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._latest: DependencyHealth | None = None
        self._last_error: str | None = None
        self._lock = asyncio.Lock()
        self.probes = 0

    async def check(self) -> DependencyHealth:
        if self._is_fresh(self._latest):
            assert self._latest is not None
            return self._latest
        async with self._lock:
            if not self._is_fresh(self._latest):
                self._latest = await self._probe()
            assert self._latest is not None
            return self._latest

    def _is_fresh(self, result: DependencyHealth | None) -> bool:
        return result is not None and time.time() - result.checked_at < self._cache_seconds

    async def _probe(self) -> DependencyHealth:
        """MLflow is healthy when an endpoint a request could go to answers, as for traffic."""
        self.probes += 1
        upstream = self._proxy.upstream
        tried: list[Endpoint] = []
        while len(tried) < MAX_ATTEMPTS and (endpoint := upstream.pick(tried)) is not None:
            tried.append(endpoint)
            result = await self._probe_endpoint(endpoint)
            if result.status == "healthy":
                return result
        if not tried:
            self._last_error = f"no usable endpoint ({upstream.reason})"
            return DependencyHealth(
                "unhealthy", upstream.target, None, None, self._last_error, time.time()
            )
        return result

    async def _probe_endpoint(self, endpoint: Endpoint) -> DependencyHealth:
        base = endpoint.base_url
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                status, _ = await self._get(endpoint, "/health")
                if status != 200:
                    raise RuntimeError(f"GET /health answered {status}")
                latency_ms = round((time.perf_counter() - started) * 1000, 2)
                status, body = await self._get(endpoint, "/version")
                version = body.decode("utf-8", "replace").strip() if status == 200 else None
        except (ClientError, TimeoutError, RuntimeError) as exc:
            self._last_error = _describe(exc)
            return DependencyHealth("unhealthy", base, None, None, self._last_error, time.time())
        return DependencyHealth("healthy", base, latency_ms, version, self._last_error, time.time())

    async def _get(self, endpoint: Endpoint, path: str) -> tuple[int, bytes]:
        answer = await self._proxy.client.send(endpoint.address, "GET", path)
        try:
            return answer.status, await answer.read()
        finally:
            answer.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectError):
        return f"cannot connect ({exc})"
    return str(exc) or type(exc).__name__
