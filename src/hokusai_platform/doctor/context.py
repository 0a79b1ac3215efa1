"""Everything a check may consult: the expectations, and how to reach the environment."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from hokusai_platform.doctor.aws_api import AwsApi
from hokusai_platform.doctor.skip import Skip
from hokusai_platform.infra.expectations import Expectations
from hokusai_platform.infra.layout import Environment


@dataclass(frozen=True)
class DnsServer:
    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Context:
    expectations: Expectations
    http: aiohttp.ClientSession
    # None for the local stack, which has no AWS APIs behind it.
    aws: AwsApi | None = None
    url: str | None = None
    # Empty: the system resolver, which from outside the VPC cannot see the private zone.
    dns_servers: tuple[DnsServer, ...] = ()
    # The environment's Terraform; None for the local stack.
    terraform: Environment | None = None

    def aws_api(self) -> AwsApi:
        if self.aws is None:
            raise Skip("the local stack has no AWS APIs")
        return self.aws
