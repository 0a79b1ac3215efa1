"""An endpoint: one concrete address an upstream's traffic can go to."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

# Where an endpoint came from, as /health reports it.
Source = Literal["dns", "cloudmap", "stale", "fallback", "static"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    scheme: str
    host: str  # an IP address, never a name: the name was resolved to get here
    port: int
    source: Source
    # Derived once: every proxied request reads them.
    authority: str = field(init=False, compare=False, repr=False)
    """`ip:port`, or `[v6]:port`; also the Host header MLflow is sent."""
    address: tuple[str, str, int] = field(init=False, compare=False, repr=False)
    """The endpoint's identity whatever its source: a stale endpoint is the same server."""

    def __post_init__(self) -> None:
        host = f"[{self.host}]" if ":" in self.host else self.host
        object.__setattr__(self, "authority", f"{host}:{self.port}")
        object.__setattr__(self, "address", (self.scheme, self.host, self.port))

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.authority}"

    def relabelled(self, source: Source) -> Endpoint:
        return Endpoint(self.scheme, self.host, self.port, source)


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
