"""Where endpoints come from: DNS, Cloud Map's API, or a literal address.

Each source answers `resolve()` with the endpoints and how long the answer may be used, or
raises `ResolutionFailed` naming the kind of failure. Sources hold no cache: the resolver does.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import boto3
import botocore.exceptions
import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
from botocore.config import Config

from hokusai_platform.discovery.endpoint import Endpoint, Source, is_ip_address
from hokusai_platform.discovery.target import CloudMapTarget, HttpTarget, UpstreamTarget

FailureKind = Literal["nxdomain", "empty", "servfail", "timeout", "error"]


class ResolutionFailed(Exception):
    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Answer:
    endpoints: tuple[Endpoint, ...]
    ttl: float  # seconds the answer may be used, counted from when it arrived


class EndpointSource(Protocol):
    kind: Source
    target: str  # what is resolved, as operators know it: a DNS name, cloudmap://ns/svc, an IP

    async def resolve(self) -> Answer: ...


class StaticSource:
    kind: Source = "static"

    def __init__(self, target: HttpTarget) -> None:
        self.target = target.host
        self._answer = Answer(
            (Endpoint(target.scheme, target.host, target.port, "static"),), math.inf
        )

    async def resolve(self) -> Answer:
        return self._answer


class DnsSource:
    """A records of one name; every record of a multi-value answer is an endpoint."""

    kind: Source = "dns"

    def __init__(
        self,
        target: HttpTarget,
        *,
        nameservers: Sequence[tuple[str, int]] = (),
        timeout: float,
    ) -> None:
        self.target = target.host
        self._scheme = target.scheme
        self._port = target.port
        self._name = dns.name.from_text(target.host)  # absolute: no search domains
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in nameservers
            ]
        self._resolver.cache = None  # the caller caches, with serve-stale on top
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout / 2

    async def resolve(self) -> Answer:
        try:
            answer = await self._resolver.resolve(self._name, "A", search=False)
        except dns.resolver.NXDOMAIN:
            raise ResolutionFailed("nxdomain", f"{self.target} does not exist (NXDOMAIN)") from None
        except dns.resolver.NoAnswer:
            raise ResolutionFailed("empty", f"{self.target} has no A records") from None
        except dns.resolver.LifetimeTimeout:
            raise ResolutionFailed("timeout", f"{self.target}: DNS timed out") from None
        except dns.resolver.NoNameservers as exc:
            raise ResolutionFailed(
                "servfail", f"{self.target}: no DNS server answered ({exc})"
            ) from None
        except dns.exception.DNSException as exc:
            raise ResolutionFailed("error", f"{self.target}: {exc}") from None
        assert answer.rrset is not None
        endpoints = tuple(
            Endpoint(self._scheme, record.address, self._port, "dns") for record in answer.rrset
        )
        return Answer(endpoints, float(answer.rrset.ttl))


class CloudMapSource:
    """Cloud Map's DiscoverInstances: healthy instances, or all of them when none is."""

    kind: Source = "cloudmap"

    def __init__(self, target: CloudMapTarget, *, ttl: float, timeout: float) -> None:
        self.target = str(target)
        self._namespace = target.namespace
        self._service = target.service
        self._ttl = ttl
        # boto3 honours AWS_ENDPOINT_URL itself. The host prefix ("data-servicediscovery.")
        # would send the call past a custom endpoint such as moto_server.
        self._config = Config(
            inject_host_prefix=False,
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 1},
        )
        self._client: Any = None

    async def resolve(self) -> Answer:
        # boto3 blocks: it runs in a thread so the event loop keeps serving requests.
        return await asyncio.to_thread(self._discover)

    def _discover(self) -> Answer:
        try:
            if self._client is None:
                self._client = boto3.client("servicediscovery", config=self._config)
            found = self._client.discover_instances(
                NamespaceName=self._namespace,
                ServiceName=self._service,
                HealthStatus="HEALTHY_OR_ELSE_ALL",
            )
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            kind: FailureKind = "nxdomain" if code.endswith("NotFound") else "error"
            raise ResolutionFailed(kind, f"{self.target}: {code or exc}") from None
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise ResolutionFailed("error", f"{self.target}: {exc}") from None
        endpoints = tuple(
            Endpoint(
                "http",  # the instance's attributes name no scheme
                instance["Attributes"]["AWS_INSTANCE_IPV4"],
                int(instance["Attributes"].get("AWS_INSTANCE_PORT", 80)),
                "cloudmap",
            )
            for instance in found.get("Instances", [])
            if "AWS_INSTANCE_IPV4" in instance.get("Attributes", {})
        )
        if not endpoints:
            raise ResolutionFailed("empty", f"{self.target} has no registered instances")
        return Answer(endpoints, self._ttl)


def source_for(
    target: UpstreamTarget,
    *,
    nameservers: Sequence[tuple[str, int]] = (),
    cloudmap_ttl: float,
    timeout: float,
) -> EndpointSource:
    """The source a target names: Cloud Map, a literal IP address, or a DNS name."""
    if isinstance(target, CloudMapTarget):
        return CloudMapSource(target, ttl=cloudmap_ttl, timeout=timeout)
    if is_ip_address(target.host):
        return StaticSource(target)
    return DnsSource(target, nameservers=nameservers, timeout=timeout)
