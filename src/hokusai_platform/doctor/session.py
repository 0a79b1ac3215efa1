"""Open a `Context` with the connections a run needs, and close them after."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import aiohttp

from hokusai_platform.doctor.aws_api import AwsApi
from hokusai_platform.doctor.context import Context, DnsServer
from hokusai_platform.infra.expectations import Expectations
from hokusai_platform.infra.layout import Environment

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=5, connect=2)


@contextlib.asynccontextmanager
async def open_context(
    expectations: Expectations,
    *,
    url: str | None = None,
    dns_servers: Sequence[DnsServer] = (),
    region: str | None = None,
    with_aws: bool = True,
    terraform: Environment | None = None,
) -> AsyncIterator[Context]:
    # No cookies, no credentials: doctor asks what any anonymous client may ask.
    async with aiohttp.ClientSession(
        timeout=HTTP_TIMEOUT, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        yield Context(
            expectations=expectations,
            http=http,
            aws=AwsApi(region or expectations.region) if with_aws else None,
            url=url,
            dns_servers=tuple(dns_servers),
            terraform=terraform,
        )
