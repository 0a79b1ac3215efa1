"""What discovery resolves, as a typed value: `settings` parses the URL once into one of these.

`HttpTarget` is `http(s)://host:port`, where host is a DNS name (every A record an endpoint)
or an IP address (one static endpoint); `CloudMapTarget` is `cloudmap://namespace/service`
(Cloud Map's DiscoverInstances).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from hokusai_platform.http.client import authority


@dataclass(frozen=True, slots=True)
class HttpTarget:
    scheme: str  # http or https
    host: str  # a DNS name or an IP address (IPv6 without brackets)
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{authority(self.host, self.port)}"


@dataclass(frozen=True, slots=True)
class CloudMapTarget:
    namespace: str
    service: str

    def __str__(self) -> str:
        return f"cloudmap://{self.namespace}/{self.service}"


UpstreamTarget: TypeAlias = HttpTarget | CloudMapTarget
