"""Active health checks (Envoy's word): an endpoint passes when `GET <path>` answers 200 in time.

The cluster probes ejected endpoints whose back-off has passed and, while the fallback takes
the traffic, the discovered endpoints it would fail back to. Probes go through the client the
traffic uses, so they see the endpoint as requests do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.http.client import Client
from hokusai_platform.http.errors import ClientError


class HealthCheck:
    def __init__(self, client: Client, *, path: str, timeout: float) -> None:
        self._client = client
        self._path = path
        self._timeout = timeout

    async def check(self, endpoints: Collection[Endpoint]) -> list[bool]:
        """Probe every endpoint at once; whether each passed, in their order."""
        return list(await asyncio.gather(*(self._probe(endpoint) for endpoint in endpoints)))

    async def _probe(self, endpoint: Endpoint) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._client.send(endpoint.address, "GET", self._path)
                try:
                    await answer.read()
                finally:
                    answer.close()
        except (ClientError, TimeoutError):
            return False
        return answer.status == 200
