"""Active health checks (Envoy's word): an endpoint passes when `GET <path>` answers 200 in time.

The cluster probes ejected endpoints whose back-off has passed and, while the fallback takes
the traffic, the discovered endpoints it would fail back to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import aiohttp

from hokusai_platform.discovery.endpoint import Endpoint


class HealthCheck:
    def __init__(self, session: aiohttp.ClientSession, *, path: str, timeout: float) -> None:
        self._session = session
        self._path = path
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def check(self, endpoints: Collection[Endpoint]) -> list[bool]:
        """Probe every endpoint at once; whether each passed, in their order."""
        return list(await asyncio.gather(*(self._probe(endpoint) for endpoint in endpoints)))

    async def _probe(self, endpoint: Endpoint) -> bool:
        try:
            async with self._session.get(
                endpoint.base_url + self._path,
                headers={"Host": endpoint.authority},
                timeout=self._timeout,
                allow_redirects=False,
            ) as answer:
                await answer.read()
                return answer.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False
